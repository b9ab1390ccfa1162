/**
 * `auth_basic_user_file`: the user files Apache's `htpasswd` writes (`user:hash`, one a line; nginx also allows a
 * third `:comment` field), and the check of a password against each hash format. Pure, apart from hashing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BcryptWork, parseBcrypt, type BcryptHash } from './crypt/bcrypt.js';
import { apr1, parseApr1 } from './crypt/md5-crypt.js';
import { parseShaCrypt, ShaCryptWork, type ShaCryptHash } from './crypt/sha-crypt.js';
import { err, ok, type Result } from '../lib/result.js';

/** One stored password hash. */
export type StoredHash =
  | { readonly kind: 'bcrypt'; readonly hash: BcryptHash }
  | { readonly kind: 'apr1'; readonly salt: string; readonly text: string }
  | { readonly kind: 'sha1'; readonly digest: Buffer }
  | { readonly kind: 'sha-crypt'; readonly hash: ShaCryptHash };

/** A user file's users. */
export type UserTable = ReadonlyMap<string, StoredHash>;

/** A line that is not a user and a hash we can check. */
export interface UserFileError {
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** Recognises a hash by its prefix, or says which formats are accepted. */
export function parseStoredHash(text: string): Result<StoredHash, string> {
  if (text.startsWith('$2')) {
    const hash = parseBcrypt(text);
    return hash === null ? err('malformed bcrypt hash') : ok({ kind: 'bcrypt', hash });
  }
  if (text.startsWith('$apr1$')) {
    const a = parseApr1(text);
    return a === null ? err('malformed $apr1$ hash') : ok({ kind: 'apr1', ...a });
  }
  if (text.startsWith('{SHA}')) {
    const digest = Buffer.from(text.slice(5), 'base64');
    const fine = digest.length === 20 && digest.toString('base64') === text.slice(5);
    return fine ? ok({ kind: 'sha1', digest }) : err('malformed {SHA} hash');
  }
  if (text.startsWith('$5$') || text.startsWith('$6$')) {
    const hash = parseShaCrypt(text);
    return hash === null ? err('malformed SHA-crypt hash') : ok({ kind: 'sha-crypt', hash });
  }
  return err(
    'unknown password hash format (accepted: bcrypt $2y$/$2a$/$2b$, $apr1$, {SHA}, $5$, $6$, as htpasswd -B, -m, -s, -2, -5 write them)',
  );
}

/** Reads a user file's text: every user with a hash we can check, and every line we cannot read. */
export function parseUserFile(text: string): { readonly users: UserTable; readonly errors: readonly UserFileError[] } {
  const users = new Map<string, StoredHash>();
  const errors: UserFileError[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      errors.push({ line: i + 1, col: 1, message: 'expected "user:hash"' });
      return;
    }
    const user = line.slice(0, colon);
    const rest = line.slice(colon + 1);
    const end = rest.indexOf(':');
    const hashText = end === -1 ? rest : rest.slice(0, end);
    const hash = parseStoredHash(hashText);
    if (!hash.ok) errors.push({ line: i + 1, col: colon + 2, message: `${hash.error} for user "${user}"` });
    else if (!users.has(user)) users.set(user, hash.value); // the first line for a user wins, as in nginx
  });
  return { users, errors };
}

/** A password check in progress: step() until it returns true, then matched(). */
export interface Check {
  /** Works until done or `deadline` (performance.now() time); true when done. */
  step(deadline: number): boolean;
  /** The verdict, once done. */
  matched(): boolean;
}

/** Compares two strings in time that depends only on their lengths. */
export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  // Unequal lengths still cost one comparison, so the time says nothing about where they differ.
  if (x.length !== y.length) return timingSafeEqual(x, x) && false;
  return timingSafeEqual(x, y);
}

/** A check that is complete at once. */
function done(matched: boolean): Check {
  return { step: () => true, matched: () => matched };
}

/** Starts checking `password` against `stored` (all final comparisons in constant time). */
export function startCheck(stored: StoredHash, password: Buffer): Check {
  switch (stored.kind) {
    case 'sha1': {
      const d = createHash('sha1').update(password).digest();
      return done(timingSafeEqual(d, stored.digest));
    }
    case 'apr1':
      return done(sameText(apr1(password, stored.salt), stored.text));
    case 'bcrypt': {
      const work = new BcryptWork(password, stored.hash);
      return {
        step: (deadline) => work.step(deadline),
        matched: () => sameText(work.result() ?? '', stored.hash.text),
      };
    }
    case 'sha-crypt': {
      const work = new ShaCryptWork(password, stored.hash);
      return {
        step: (deadline) => work.step(deadline),
        matched: () => sameText(work.result() ?? '', stored.hash.text),
      };
    }
  }
}
