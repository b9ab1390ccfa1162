/**
 * The access gate in front of a request's handler (docs/ARCHITECTURE.md "Access control"), in nginx's phase
 * order: `limit_req` and `limit_conn` (preaccess), then `allow`/`deny` and `auth_basic` joined by `satisfy`
 * (access). A verdict that is known at once answers at once; a request delayed by limit_req or waiting for a
 * password check gets a receiver that holds the first piece of its body (and pauses reading) until the handler
 * runs, or the answer is an error.
 */
import { judge } from './cidr.js';
import { Authenticator, type AuthOutcome } from './basic-auth.js';
import { ConcurrencyLimit, LeakyBucket } from './limit-req.js';
import type { AccessPolicy, LimitReq } from './policy.js';
import { errorResponse } from '../handlers/error-page.js';
import type { BodyReceiver, Exchange } from '../handlers/exchange.js';
import { headerLine } from '../http/response.js';

/** Access state shared by every configuration of the process (limit zones survive a reload, as nginx's do). */
export class AccessServices {
  readonly auth: Authenticator;
  private readonly buckets = new Map<string, LeakyBucket>();
  private readonly conns = new Map<string, ConcurrencyLimit>();

  constructor(log: (message: string) => void = () => undefined) {
    this.auth = new Authenticator(log);
  }

  /** The bucket of a limit_req directive (a changed rate at the same place is a new zone). */
  bucket(l: LimitReq): LeakyBucket {
    const key = `${l.zone} ${l.perSecond} ${l.burst} ${l.nodelay}`;
    let b = this.buckets.get(key);
    if (b === undefined) this.buckets.set(key, (b = new LeakyBucket(l.perSecond, l.burst, l.nodelay)));
    return b;
  }

  /** The counter of a limit_conn directive. */
  concurrency(zone: string): ConcurrencyLimit {
    let c = this.conns.get(zone);
    if (c === undefined) this.conns.set(zone, (c = new ConcurrencyLimit()));
    return c;
  }
}

/** What the gate needs from the request it guards. */
export interface GateHost {
  /** The authenticated user ($remote_user, REMOTE_USER). */
  setRemoteUser(user: string): void;
  /** Runs `fn` once when the request is over (answered and written, or the connection gone). */
  onDone(fn: () => void): void;
}

/** A request's handler, started. */
export type Run = (ex: Exchange) => BodyReceiver | null;

/** Answers with an error page. */
function refuse(ex: Exchange, status: number, headers = ''): null {
  ex.respond(errorResponse(ex.server, status, { headers }));
  return null;
}

const retryAfter = (ms: number): string => headerLine('Retry-After', String(Math.max(1, Math.ceil(ms / 1000))));

/** `run` behind `policy`. */
export function guard(run: Run, policy: AccessPolicy, svc: AccessServices, host: GateHost): Run {
  return (ex) => {
    const addr = ex.remoteAddress;
    let delay = 0;
    if (policy.limitReq !== null) {
      const v = svc.bucket(policy.limitReq).take(addr, Date.now());
      if (v.kind === 'reject') return refuse(ex, policy.limitReqStatus, retryAfter(v.retryMs));
      if (v.kind === 'delay') delay = v.ms;
    }
    if (policy.limitConn !== null) {
      const release = svc.concurrency(policy.limitConn.zone).enter(addr, policy.limitConn.max);
      if (release === null) return refuse(ex, policy.limitConnStatus, retryAfter(1000));
      host.onDone(release);
    }
    if (delay === 0) {
      const d = access(ex, policy, svc, host);
      if (d === 'pass') return run(ex);
      if (d !== 'refused') return wait(ex, run, (go) => d(go));
      return null;
    }
    return wait(ex, run, (go) => {
      let inner: (() => void) | null = null;
      const cancelTimer = ex.timer(Date.now() + delay, () => {
        const d = access(ex, policy, svc, host);
        if (d === 'pass') go(true);
        else if (d === 'refused') go(false);
        else inner = d(go);
      });
      return () => {
        cancelTimer();
        inner?.();
      };
    });
  };
}

/** A decision still to come: started with its continuation (true: run the handler), returns its cancel. */
export type Pending = (go: (pass: boolean) => void) => () => void;

/**
 * The access phase: 'pass', 'refused' (already answered), or a pending password check. `satisfy all` needs the
 * address rules (a deny is 403 before any password is asked) and the password; `satisfy any` either of them.
 */
function access(ex: Exchange, policy: AccessPolicy, svc: AccessServices, host: GateHost): 'pass' | 'refused' | Pending {
  const verdict = judge(policy.rules, ex.remoteAddress);
  const file = policy.userFile;
  const authOn = policy.realm !== null && file !== null;
  if (policy.satisfyAny && verdict === 'allow') return 'pass';
  if (!authOn) {
    if (verdict === 'deny') {
      refuse(ex, 403);
      return 'refused';
    }
    return 'pass';
  }
  if (!policy.satisfyAny && verdict === 'deny') {
    refuse(ex, 403);
    return 'refused';
  }
  const realm = policy.realm;
  const settle = (o: AuthOutcome): boolean => {
    switch (o.kind) {
      case 'user':
        host.setRemoteUser(o.user);
        return true;
      case 'denied':
        // RFC 7617 §2, §2.1: the realm, and the charset the server expects user-ids and passwords in.
        refuse(ex, 401, headerLine('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`));
        return false;
      case 'busy':
        refuse(ex, 429, headerLine('Retry-After', String(o.retryAfter)));
        return false;
      case 'broken':
        ex.logError(`auth_basic: ${o.reason}`);
        refuse(ex, 500);
        return false;
    }
  };
  const header = ex.head.headers.get('authorization');
  let cont: ((pass: boolean) => void) | null = null;
  const r = svc.auth.authenticate(file.path, file.table, header, ex.remoteAddress, Date.now(), (o) => {
    const pass = settle(o);
    cont?.(pass);
  });
  if (typeof r !== 'function') return settle(r) ? 'pass' : 'refused';
  // The check's answer always comes on a later turn of the loop, after `cont` is set.
  return (go) => {
    cont = go;
    return r;
  };
}

/**
 * Holds the request until `pending` decides (always on a later turn of the loop). The receiver it returns keeps at
 * most one piece of the body (copied) and pauses reading; the handler gets it, and the rest, once it runs.
 */
export function wait(ex: Exchange, run: Run, pending: Pending): BodyReceiver {
  const d = new Deferred(ex);
  ex.onAbandon(() => {
    d.abort();
  });
  d.cancel = pending((pass) => {
    if (pass) d.start(run);
    else d.drop();
  });
  return d;
}

/** The receiver of a request whose handler has not started yet. */
class Deferred implements BodyReceiver {
  /** undefined: not started; null: the handler takes no body (it is dropped). */
  private inner: BodyReceiver | null | undefined = undefined;
  private held: Buffer | null = null;
  private ended = false;
  private aborted = false;
  cancel: (() => void) | null = null;

  constructor(private readonly ex: Exchange) {}

  data(chunk: Buffer): boolean {
    if (this.inner === undefined) {
      this.held = Buffer.from(chunk);
      return false;
    }
    return this.inner === null ? true : this.inner.data(chunk);
  }

  end(): void {
    if (this.inner === undefined) this.ended = true;
    else this.inner?.end();
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.cancel?.();
    this.cancel = null;
    const inner = this.inner;
    this.inner = null;
    inner?.abort();
  }

  /** The gate let the request in: run the handler and hand it what came of the body. */
  start(run: Run): void {
    if (this.aborted || this.inner !== undefined) return;
    this.cancel = null;
    try {
      this.inner = run(this.ex);
    } catch (e) {
      this.ex.logError(`handler failed for ${this.ex.head.method} ${this.ex.head.target}: ${String(e)}`);
      this.inner = null;
      refuse(this.ex, 500);
      return;
    }
    const held = this.held;
    this.held = null;
    let more = true;
    if (held !== null && this.inner !== null) more = this.inner.data(held);
    if (this.ended) this.inner?.end();
    else if (more) this.ex.resumeBody();
  }

  /** The gate answered with an error: the body, if any, is only read on to be dropped. */
  drop(): void {
    if (this.inner !== undefined) return;
    this.cancel = null;
    this.inner = null;
    this.held = null;
    if (!this.ended) this.ex.resumeBody();
  }
}
