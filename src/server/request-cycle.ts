/**
 * One request on a connection, from its head to the start of its answer (docs/ARCHITECTURE.md "A request"):
 * route it, hand it to its handler, read or discard its body, take the handler's answer (holding it while a body
 * nobody reads still arrives, so the connection can be kept), and serve internal redirects. Made fresh for each
 * request, so nothing of one request can leak into the next; the exchanges it creates talk to it.
 */
import { guard, type GateHost, type Run } from '../access/gate.js';
import { isOpen } from '../access/policy.js';
import { realClient, type RealClient, type RealIpConfig } from '../access/realip.js';
import { NO_RATE_LIMIT, type RateLimit, type ServerConfig } from '../config/types.js';
import type { ErrorRedirect } from '../config/routing-types.js';
import { errorResponse, isErrorResponse } from '../handlers/error-page.js';
import { redirectResponse } from '../handlers/redirect.js';
import type { BodyReceiver, Tunnel, TunnelEvents } from '../handlers/exchange.js';
import type { RequestHead } from '../http/request.js';
import type { Response } from '../http/response.js';
import { plan, varContext, type ConnInfo, type Plan } from '../router/dispatch.js';
import { decorate } from '../router/response-headers.js';
import type { ConnState } from './connection-states.js';
import { ConnExchange, type ExchangeHost } from './exchange.js';
import { afterSessionLoad } from '../session/phase.js';
import type { LocationConfig } from '../config/types.js';
import { DISCARD, RequestBody } from './request-body.js';
import { releaseBody } from './response-writer.js';
import { reroutedHead } from './reroute.js';
import { accessRecord, type AccessRecord } from './logs.js';
import { countRequest, methodIndex, OTHER_METHOD, slotOf } from './metrics.js';
import type { Runtime } from './runtime.js';
import type { Transport } from './transport.js';
import type { SessionBinding } from '../session/binding.js';

/** Internal redirects one request may go through (Apache's LimitInternalRecursion). */
const MAX_REROUTES = 10;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/** What a request cycle needs from its connection. */
export interface CycleOwner {
  readonly runtime: Runtime;
  readonly transport: Transport;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly state: ConnState;
  /** True while `cycle` is the connection's current request. */
  isCurrent(cycle: RequestCycle): boolean;
  /** Moves the connection on (body → handling, head → body ...). */
  enterState(next: ConnState): void;
  /** Frames and writes the answer to this cycle's request. */
  answer(res: Response, head: RequestHead | null): void;
  /** Writes the 101 head `res` and takes the connection out of HTTP; null when it cannot be (see Exchange). */
  tunnel(res: Response, events: TunnelEvents): Tunnel | null;
  /** Answers with an error page and closes (bad framing, over the limit). */
  fail(status: number, reason: string): void;
  pauseReading(): void;
  resumeReading(): void;
  /** Consumes buffered input again (after the body was resumed). */
  advance(): void;
}

/** One request in progress. */
export class RequestCycle implements ExchangeHost, GateHost {
  exchange: ConnExchange | null = null;
  body: RequestBody | null = null;
  /** An answer given while a body nobody reads is still arriving: written once it has been read. */
  private held: Response | null = null;
  /** The status of the response once one was started (0: none yet). */
  status = 0;
  keepAlive = false;
  /** The client may still be sending when we close: linger. */
  linger = false;
  /** The user auth_basic let in; kept across internal redirects. */
  remoteUser: string | null = null;
  /** Run once when the request is over (limit_conn's release). */
  private whenDone: (() => void)[] = [];

  /** Set once an `error_page URI` redirect was taken: the error it answers, and the rule (never a second one). */
  private errorPage: { readonly code: number; readonly rule: ErrorRedirect } | null = null;
  /** Bytes of the request head as received (for $request_length). */
  headBytesIn = 0;
  /** When the head was parsed (for $request_time). */
  readonly startedAt = Date.now();
  /** The same, in milliseconds of the monotonic clock (the metrics' duration histogram). */
  t0 = performance.now();
  /** The request method's index in the metrics' method labels ("other" until a head is known). */
  method = OTHER_METHOD;
  /** The client set_real_ip_from's header named in the peer's place; null: the peer is the client. */
  private real: RealClient | null = null;

  constructor(private readonly owner: CycleOwner) {}

  /** The connection facts variables need. */
  private connInfo(): ConnInfo {
    return {
      remoteAddress: this.remoteAddress,
      peerAddress: this.owner.remoteAddress,
      localPort: this.localPort,
      scheme: this.secure ? 'https' : 'http',
    };
  }

  /** Puts the client `cfg`'s header names in the peer's place, when the peer is trusted (nginx's realip). */
  private applyRealIp(head: RequestHead, cfg: RealIpConfig): void {
    this.real = realClient(this.owner.remoteAddress, head.headers.get(cfg.header), cfg);
  }

  get runtime(): Runtime {
    return this.owner.runtime;
  }
  /** The client's address: the realip one, else the peer's. Everything downstream reads this one. */
  get remoteAddress(): string {
    return this.real?.address ?? this.owner.remoteAddress;
  }
  /** The client's port: the realip header's (0 when it gave none, as nginx), else the peer's. */
  get remotePort(): number {
    return this.real === null ? this.owner.remotePort : this.real.port;
  }
  /** The connection's own peer ($realip_remote_addr, $realip_remote_port). */
  get peerAddress(): string {
    return this.owner.remoteAddress;
  }
  get peerPort(): number {
    return this.owner.remotePort;
  }
  get localAddress(): string {
    return this.owner.localAddress;
  }
  get localPort(): number {
    return this.owner.localPort;
  }
  get secure(): boolean {
    return this.owner.transport.secure;
  }

  /** Starts the request: routes it, runs its handler, and sets up its body. */
  start(head: RequestHead, server: ServerConfig, headBytes = 0): void {
    const o = this.owner;
    this.headBytesIn = headBytes;
    this.method = methodIndex(head.method);
    // keepalive_timeout 0 turns keep-alive off, as in nginx.
    this.keepAlive = head.keepAlive && !o.runtime.shuttingDown && server.timeouts.keepalive > 0;
    // nginx's realip runs in the post-read phase with the server's settings (servers without any pay one
    // comparison), and again in preaccess with a location's own, if the first changed nothing.
    if (server.realIp !== null) this.applyRealIp(head, server.realIp);
    const planned = plan(head, server, this.connInfo());
    const own = planned.location?.realIp ?? null;
    if (this.real === null && own !== null && own !== server.realIp) this.applyRealIp(head, own);
    const policy = planned.location?.access ?? server.access;
    const services = o.runtime.services.access;
    const sessioned = withSession(planned.run, planned.location, server, this);
    const run = isOpen(policy) ? sessioned : guard(sessioned, policy, services, this);
    const p = run === planned.run ? planned : { ...planned, run };
    const ex = (this.exchange = new ConnExchange(this, p.head, server, p.location, p.path));
    if (!head.chunked && head.contentLength <= 0) {
      o.enterState('handling');
      this.run(ex, p)?.end(); // a handler that reads bodies gets the end of an empty one at once
      return;
    }
    // Reject a declared length over the limit before reading it. The limit is the final location's (after rewrite,
    // try_files and index), else the server's, as nginx checks client_max_body_size in the location it settles on.
    const limit = p.location?.bodyLimit ?? server.bodyLimit;
    if (limit > 0 && head.contentLength > limit) {
      this.linger = true;
      o.enterState('handling');
      this.respond(ex, errorResponse(server, 413, { close: true }));
      return;
    }
    const body = (this.body = new RequestBody(head, limit));
    o.enterState('body');
    const receiver = this.run(ex, p);
    if (!o.isCurrent(this) || o.state !== 'body') return; // answered and done with at once
    if (receiver !== null) body.receiver = receiver;
    else if (this.held !== null && head.expectContinue) {
      // Answered without the body, which the client has not sent yet: answer now and close.
      this.writeHeld(false);
      return;
    }
    // 100 Continue only when the body will be read (by a handler, or to keep the connection).
    if (head.expectContinue && head.minor === 1) o.transport.write(CONTINUE);
  }

  /** Runs the plan's handler; a handler that throws is a 500, never a crash. */
  private run(ex: ConnExchange, p: Plan): BodyReceiver | null {
    try {
      return p.run(ex);
    } catch (err) {
      const why = err instanceof Error ? (err.stack ?? err.message) : String(err);
      this.runtime.logs.error(`handler failed for ${ex.head.method} ${ex.head.target}: ${why}`);
      this.respond(ex, errorResponse(ex.server, 500, { close: true }));
      return null;
    }
  }

  /** Feeds `buf[off, …)` to the body; returns how far it read, and whether the body is complete. */
  readBody(buf: Buffer, off: number): { readonly end: number; readonly complete: boolean } {
    const body = this.body;
    if (body === null) return { end: off, complete: true };
    const r = body.feed(buf, off, buf.length);
    const end = body.consumed;
    if (r === 'more') return { end, complete: false };
    if (r === 'paused') {
      this.owner.pauseReading();
      return { end, complete: false };
    }
    if (r !== 'done') {
      this.owner.fail(r.status, r.reason);
      return { end, complete: false };
    }
    // The receiver's end() may have answered, even finished the response, already.
    if (this.owner.isCurrent(this) && this.owner.state === 'body') {
      if (this.held !== null) this.writeHeld(true);
      else this.owner.enterState('handling');
    }
    return { end, complete: true };
  }

  /** The session binding of the exchange being run (the session phase loads it). */
  currentBinding(): SessionBinding | null {
    return this.exchange?.sessionBinding() ?? null;
  }
  /** GateHost. */
  setRemoteUser(user: string): void {
    this.remoteUser = user;
  }

  /** GateHost. */
  onDone(fn: () => void): void {
    this.whenDone.push(fn);
  }

  /** The request is over (its response written, or its connection gone): runs what waited for that, once. */
  finish(): void {
    const fns = this.whenDone;
    this.whenDone = [];
    for (const fn of fns) {
      try {
        fn();
      } catch (err) {
        this.runtime.logs.error(`request cleanup failed: ${String(err)}`);
      }
    }
  }

  /** ExchangeHost: a receiver can take more of the body. */
  resumeBody(ex: ConnExchange): void {
    const body = this.body;
    if (ex !== this.exchange || body === null || !body.waiting) return;
    body.resume();
    this.owner.resumeReading();
    if (this.owner.state === 'body') this.owner.advance();
  }

  /** ExchangeHost: the first answer for the request is written; anything else is ignored. */
  respond(ex: ConnExchange, res: Response): void {
    const o = this.owner;
    if (
      ex !== this.exchange ||
      !o.isCurrent(this) ||
      this.status !== 0 ||
      this.held !== null ||
      o.state === 'closing' ||
      o.state === 'closed'
    ) {
      releaseBody(res.body);
      return;
    }
    const rule = this.errorPage === null && res.close !== true ? ex.server.errorRedirects.get(res.status) : undefined;
    if (rule !== undefined && isErrorResponse(res)) {
      // error_page CODE URI (nginx): the answer comes from the URI instead, once (recursive_error_pages off).
      releaseBody(res.body);
      this.errorPage = { code: res.status, rule };
      if (/^https?:\/\//i.test(rule.uri)) this.respond(ex, redirectResponse(302, rule.uri));
      else this.reroute(ex, rule.uri);
      return;
    }
    const status = this.answerStatus(res.status);
    const headers = this.outHeaders(ex, res.headers, status);
    const answer = headers === res.headers && status === res.status ? res : { ...res, status, headers };
    const body = this.body;
    if (o.state === 'body' && body !== null && !body.over) {
      if (body.receiver === DISCARD) {
        this.held = answer; // read the rest first, so the connection can be kept
        return;
      }
      // Answered before its reader got the whole body (an error mid-upload): close afterwards.
      body.abort();
      this.keepAlive = false;
      this.linger = true;
    }
    o.answer(answer, ex.head);
  }

  /**
   * ExchangeHost: the handler switches protocols (RFC 9110 §7.8). Only the current request's first answer, for a
   * request whose body is over (there is none: the proxy upgrades only those), and with the response headers the
   * location adds (add_header ... always).
   */
  upgrade(ex: ConnExchange, res: Response, events: TunnelEvents): Tunnel | null {
    const o = this.owner;
    if (ex !== this.exchange || !o.isCurrent(this) || this.status !== 0 || this.held !== null) return null;
    if (o.state !== 'handling' || (this.body !== null && !this.body.over)) return null;
    const headers = this.outHeaders(ex, res.headers, res.status);
    return o.tunnel(headers === res.headers ? res : { ...res, headers }, events);
  }

  /** A response's header lines with what the location adds (add_header, expires) and the session's cookie. */
  private outHeaders(ex: ConnExchange, lines: string, status: number): string {
    const vars = (): ReturnType<typeof varContext> =>
      varContext(
        ex.head,
        ex.server,
        this.connInfo(),
        ex.location,
        { uri: ex.path, args: ex.head.query, captures: [] },
        status,
      );
    return decorate(lines, status, ex.server, ex.location, vars, Date.now()) + ex.cookieLine();
  }

  /** The status to send for a response of `status`: an error page's rule may say the error's, its own, or =CODE. */
  private answerStatus(status: number): number {
    const e = this.errorPage;
    if (e === null) return status;
    if (typeof e.rule.status === 'number') return e.rule.status;
    if (e.rule.status === 'target') return status;
    if (/^https?:\/\//i.test(e.rule.uri)) return status;
    return status < 300 ? e.code : status;
  }

  /** Writes the answer held while its body was read; `keep`: the body was read, so the connection may stay. */
  private writeHeld(keep: boolean): void {
    const held = this.held;
    if (held === null || this.exchange === null) return;
    this.held = null;
    if (!keep) {
      this.body?.abort();
      this.keepAlive = false;
      this.linger = true;
    }
    this.owner.answer(held, this.exchange.head);
  }

  /** ExchangeHost: serve the request again, internally, for `target` (a local redirect, RFC 3875 §6.2.2). */
  reroute(ex: ConnExchange, target: string): void {
    if (ex !== this.exchange || this.status !== 0) return;
    if (ex.depth >= MAX_REROUTES) {
      this.runtime.logs.error(`more than ${MAX_REROUTES} internal redirects for ${ex.head.target}`);
      this.respond(ex, errorResponse(ex.server, 500));
      return;
    }
    const head = reroutedHead(ex.head, target);
    const planned = plan(head, ex.server, this.connInfo());
    // An internal redirect passes the access phase of the location it lands in, as in nginx.
    const policy = planned.location?.access ?? ex.server.access;
    const services = this.runtime.services.access;
    const sessioned = withSession(planned.run, planned.location, ex.server, this);
    const run = isOpen(policy) ? sessioned : guard(sessioned, policy, services, this);
    const p = run === planned.run ? planned : { ...planned, run };
    const inner = new ConnExchange(this, p.head, ex.server, p.location, p.path, ex.depth + 1, ex.sessionBinding());
    this.exchange = inner;
    this.run(inner, p)?.end();
  }

  /**
   * The request failed (bad framing, a timeout, a limit): the body is dropped, a held answer forgotten, and the
   * error page to answer with, after which the connection closes.
   */
  failure(status: number, fallback: ServerConfig | null, detail?: string): Response {
    if (this.exchange === null) this.t0 = performance.now(); // no head parsed: its time is the answer's alone
    this.body?.abort();
    this.dropHeld();
    this.keepAlive = false;
    this.linger = true;
    return errorResponse(this.exchange?.server ?? fallback, status, {
      close: true,
      ...(detail !== undefined ? { detail } : {}),
    });
  }

  /** The connection is gone: the body is aborted, and a handler still working learns its client left. */
  abandon(): void {
    this.finish();
    try {
      this.body?.abort();
    } catch (err) {
      this.runtime.logs.error(`body abort failed: ${String(err)}`);
    }
    this.dropHeld();
    const ex = this.exchange;
    if (ex === null || this.status !== 0 || ex.abandon === null) return;
    try {
      ex.abandon();
    } catch (err) {
      this.runtime.logs.error(`abandon handler failed: ${String(err)}`);
    }
  }

  /** limit_rate: the location's (merged with its server's), or the server's where no location matched. */
  get rateLimit(): RateLimit {
    const ex = this.exchange;
    return ex === null ? NO_RATE_LIMIT : (ex.location?.limitRate ?? ex.server.limitRate);
  }

  /** The response is written: its access-log line and its metrics (once per request). */
  report(bytesOut: number, headBytesOut: number, fallback: ServerConfig | undefined, now: number): void {
    const server = this.exchange?.server ?? fallback;
    const logs = this.runtime.logs;
    if (server !== undefined && logs.wantsAccess(server)) logs.access(server, this.record(bytesOut, headBytesOut), now);
    const seconds = (performance.now() - this.t0) / 1000;
    countRequest(slotOf(server), this.status, this.method, seconds, bytesOut + headBytesOut);
  }

  /** The access-log record of the answer (`bytes`: body bytes sent; `headBytes`: its head). */
  record(bytes: number, headBytes: number): AccessRecord {
    const head = this.exchange?.head ?? null;
    // A body read to its end counts whole; one cut short or never read is not known, and counts nothing.
    const bodyIn = head !== null && head.contentLength > 0 && this.body?.over === true ? head.contentLength : 0;
    return accessRecord(this.remoteAddress, head, this.status, bytes, {
      peerAddress: this.owner.remoteAddress,
      bytesSent: bytes + headBytes,
      requestLength: this.headBytesIn + bodyIn,
      startedAt: this.startedAt,
    });
  }

  private dropHeld(): void {
    if (this.held !== null) releaseBody(this.held.body);
    this.held = null;
  }
}

/** `run` behind the session phase where the location has sessions kept in Redis (session/phase.ts); else `run`. */
function withSession(run: Run, location: LocationConfig | null, server: ServerConfig, cycle: RequestCycle): Run {
  if (location?.session !== true || server.sessionStore.kind !== 'redis') return run;
  return afterSessionLoad(run, () => cycle.currentBinding());
}
