/**
 * `auth_basic` (RFC 7617) without holding the event loop (docs/ARCHITECTURE.md "Access control"):
 *
 * - A verified `Authorization` value is cached for 30 s, keyed by a SHA-256 of the user file, its generation and
 *   the header value (so the cache holds no password, and a changed file forgets every entry); 4096 entries, the
 *   least recently used evicted first.
 * - A check that needs hashing goes into one queue of resumable work (bcrypt, SHA-crypt), run in slices of at most
 *   1 ms with 9 ms between them (one process-wide timer), so other clients are served between slices and hashing
 *   never takes more than a tenth of the process's time.
 * - Failed checks are rate-limited per address (a leaky bucket of 1 failure a second, burst 5; over it → 429 with
 *   Retry-After, no hashing at all), an address has at most 2 checks queued, and the queue at most 256: a client
 *   guessing passwords gets slow answers, never the loop.
 * - The user file is stat'ed on each check and read again when its inode, size, mtime or ctime changed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { parseUserFile, startCheck, type Check, type UserTable } from './htpasswd.js';
import { LeakyBucket } from './limit-req.js';

/** How long a verified header stays trusted. */
export const AUTH_CACHE_MS = 30_000;
/** Most cached verified headers. */
export const AUTH_CACHE_MAX = 4096;
/** Longest slice of hashing per turn of the loop. */
export const SLICE_MS = 1;
/** Pause after each slice: hashing takes at most a tenth of the process's time, so the server stays mostly idle
 *  and is woken promptly by the kernel for other clients even on a loaded machine. */
export const SLICE_GAP_MS = 9;
/** The pause when a single check waits (one user logging in, not a crowd guessing): a cost-10 bcrypt then took
 *  0.29 s here instead of 1.14 s, and each slice still yields the loop to every other client. */
export const LONE_GAP_MS = 1;
/** Most checks waiting in the queue, and per address. */
export const QUEUE_MAX = 256;
export const QUEUE_PER_ADDRESS = 2;

/** The outcome of one authentication. */
export type AuthOutcome =
  | { readonly kind: 'user'; readonly user: string }
  /** No, malformed or wrong credentials: 401. */
  | { readonly kind: 'denied' }
  /** Too many failures or checks from this address, or the queue is full: 429 with Retry-After (seconds). */
  | { readonly kind: 'busy'; readonly retryAfter: number }
  /** The user file cannot be read or has become invalid: 500. */
  | { readonly kind: 'broken'; readonly reason: string };

/** A user file as last read. */
interface FileState {
  table: UserTable;
  signature: string;
  generation: number;
  /** Set while the file on disk cannot be used. */
  broken: string | null;
}

/** A queued check. */
interface Job {
  readonly check: Check;
  readonly address: string;
  readonly done: (matched: boolean) => void;
  cancelled: boolean;
}

/** Splits `Basic BASE64(user:password)` (RFC 7617 §2); null when it is not that. */
export function parseBasic(header: string): { readonly user: string; readonly password: Buffer } | null {
  const m = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (m === null) return null;
  const raw = Buffer.from(m[1] ?? '', 'base64');
  if (raw.toString('base64').replace(/=+$/, '') !== (m[1] ?? '').replace(/=+$/, '')) return null;
  const colon = raw.indexOf(0x3a);
  if (colon < 0) return null;
  return { user: raw.subarray(0, colon).toString('utf8'), password: raw.subarray(colon + 1) };
}

/** Every user file and the work of checking passwords, for the whole process. */
export class Authenticator {
  private readonly files = new Map<string, FileState>();
  private readonly cache = new Map<string, { readonly user: string; readonly expires: number }>();
  private readonly failures = new LeakyBucket(1, 5, true);
  private readonly queue: Job[] = [];
  private readonly perAddress = new Map<string, number>();
  private scheduled = false;

  constructor(private readonly log: (message: string) => void = () => undefined) {}

  /** Cached entries and queued checks, for tests of boundedness. */
  get sizes(): { readonly cache: number; readonly queue: number; readonly failures: number } {
    return { cache: this.cache.size, queue: this.queue.length, failures: this.failures.size };
  }

  /**
   * Authenticates `header` (the Authorization value, or undefined) against the user file `file` (`initial`: its
   * table as read at load). Answers at once when it can (the result), else later through `later` and returns its
   * cancel.
   */
  authenticate(
    file: string,
    initial: UserTable,
    header: string | undefined,
    address: string,
    now: number,
    later: (outcome: AuthOutcome) => void,
  ): AuthOutcome | (() => void) {
    if (header === undefined) return { kind: 'denied' };
    const state = this.fileState(file, initial);
    if (state.broken !== null) return { kind: 'broken', reason: state.broken };
    const key = createHash('sha256').update(`${file}\0${state.generation}\0`).update(header, 'latin1').digest('hex');
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.expires > now) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return { kind: 'user', user: hit.user };
    }
    if (hit !== undefined) this.cache.delete(key);
    const creds = parseBasic(header);
    if (creds === null) return { kind: 'denied' };
    // The failure budget is looked at, not spent: only a failed check spends it.
    const pending = this.perAddress.get(address) ?? 0;
    const budget = this.failures.peek(address, now);
    if (budget > 0) return { kind: 'busy', retryAfter: Math.max(1, Math.ceil(budget / 1000)) };
    if (pending >= QUEUE_PER_ADDRESS || this.queue.length >= QUEUE_MAX) return { kind: 'busy', retryAfter: 1 };
    const stored = state.table.get(creds.user);
    // An unknown user costs a failure like a wrong password; no hashing is needed to know it.
    const check: Check =
      stored === undefined ? { step: () => true, matched: () => false } : startCheck(stored, creds.password);
    const job: Job = {
      check,
      address,
      cancelled: false,
      done: (matched) => {
        if (matched) {
          this.remember(key, creds.user, Date.now());
          later({ kind: 'user', user: creds.user });
        } else {
          this.failures.take(address, Date.now());
          later({ kind: 'denied' });
        }
      },
    };
    this.perAddress.set(address, pending + 1);
    this.queue.push(job);
    this.schedule();
    return () => {
      job.cancelled = true;
    };
  }

  private remember(key: string, user: string, now: number): void {
    if (this.cache.size >= AUTH_CACHE_MAX) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    this.cache.set(key, { user, expires: now + AUTH_CACHE_MS });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // One timer for the whole queue, not one per check.
    setTimeout(
      () => {
        this.scheduled = false;
        this.slice();
      },
      this.queue.length === 1 ? LONE_GAP_MS : SLICE_GAP_MS,
    );
  }

  /** One slice of hashing: the first job works for at most SLICE_MS, then goes to the back if unfinished. */
  private slice(): void {
    const job = this.queue.shift();
    if (job === undefined) return;
    let finished = job.cancelled;
    try {
      finished ||= job.check.step(performance.now() + SLICE_MS);
    } catch (e) {
      this.log(`password check failed: ${String(e)}`);
      finished = true;
    }
    if (!finished) this.queue.push(job);
    else {
      const left = (this.perAddress.get(job.address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(job.address);
      else this.perAddress.set(job.address, left);
      if (!job.cancelled) {
        let matched = false;
        try {
          matched = job.check.matched();
        } catch {
          matched = false;
        }
        job.done(matched);
      }
    }
    this.schedule();
  }

  /** The file's table, read again when the file changed since it was last seen. */
  private fileState(file: string, initial: UserTable): FileState {
    let state = this.files.get(file);
    const st = statOf(file);
    if (state === undefined) {
      state = { table: initial, signature: st, generation: 0, broken: null };
      this.files.set(file, state);
      // The table from load may already be stale: read once now.
      state.signature = '';
    }
    if (st === state.signature) return state;
    state.signature = st;
    state.generation++;
    try {
      const parsed = parseUserFile(fs.readFileSync(file, 'utf8'));
      const first = parsed.errors[0];
      if (first !== undefined) {
        state.broken = `${file}:${first.line}:${first.col}: ${first.message}`;
      } else {
        state.table = parsed.users;
        state.broken = null;
      }
    } catch (e) {
      state.broken = `cannot read ${file}: ${e instanceof Error && 'code' in e ? String(e.code) : String(e)}`;
    }
    if (state.broken !== null) this.log(`auth_basic_user_file: ${state.broken}`);
    return state;
  }
}

/** What identifies a version of a file on disk. */
function statOf(file: string): string {
  const st = fs.statSync(file, { throwIfNoEntry: false, bigint: true });
  if (st === undefined) return 'missing';
  return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
