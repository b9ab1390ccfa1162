/**
 * An Exchange for driving handlers directly, without a connection: it records respond(), resumeBody() and
 * reroute(), gives timers the test fires by hand, and starts children through an injected launcher (a
 * FakeLauncher, usually). Also: heads parsed from request text, server blocks from config text, and a BodySink that
 * records what a streamed body pushes.
 */
import * as path from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import type { Config, LocationConfig, ServerConfig } from '../../src/config/types.js';
import type { Exchange, Tunnel, TunnelEvents } from '../../src/handlers/exchange.js';
import { HeadParser } from '../../src/http/request-parser.js';
import type { RequestHead } from '../../src/http/request.js';
import type { BodySink, Response } from '../../src/http/response.js';
import { plan } from '../../src/router/dispatch.js';
import { NodeDialer } from '../../src/server/node/dialer.js';
import type { Dialer, Launcher } from '../../src/server/transport.js';
import type { Session } from '../../src/session/store.js';

/** The head of `text`, a complete request head (latin1); throws when it does not parse. */
export function headOf(text: string): RequestHead {
  const buf = Buffer.from(text, 'latin1');
  const r = new HeadParser().parse(buf, 0, buf.length);
  if (r.kind !== 'head') throw new Error(`headOf: ${r.kind === 'error' ? r.error.reason : 'incomplete head'}`);
  return r.head;
}

/** A configuration from `text`, as if read from `dir`/test.conf; throws with the errors when it is not valid. */
export function configOf(text: string, dir: string): Config {
  const r = parseConfigText(text, path.join(dir, 'test.conf'));
  if (!r.ok || r.errors.length > 0) throw new Error(`configOf: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.config;
}

/** A timer asked for through Exchange.timer(). */
export interface FakeTimer {
  readonly at: number;
  readonly fn: () => void;
  cancelled: boolean;
  fired: boolean;
}

export interface FakeExchangeOptions {
  /** The request head, or request text for headOf(). */
  readonly request: RequestHead | string;
  readonly server: ServerConfig;
  readonly launcher: Launcher;
  /** Opens upstream connections (default: node:net). */
  readonly dialer?: Dialer;
  /** The session the handler sees (null: sessions off). */
  readonly session?: Session | null;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  /** The request came over TLS; default false. */
  readonly secure?: boolean;
}

/** A recording Exchange. Location and path are the router's (plan()) for the head and server. */
export class FakeExchange implements Exchange {
  readonly head: RequestHead;
  readonly server: ServerConfig;
  readonly location: LocationConfig | null;
  readonly path: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  get peerAddress(): string {
    return this.remoteAddress;
  }
  get peerPort(): number {
    return this.remotePort;
  }
  remoteUser: string | null = null;
  readonly localAddress: string;
  readonly localPort: number;
  readonly secure: boolean;
  readonly launcher: Launcher;
  readonly dialer: Dialer;

  /** Every respond() call, in order (an Exchange keeps only the first; recording them all shows a second). */
  readonly responses: Response[] = [];
  resumeBodyCalls = 0;
  readonly reroutes: string[] = [];
  readonly errors: string[] = [];
  readonly timers: FakeTimer[] = [];
  /** Session calls: setSessionData's arguments, and endSession() calls. */
  readonly sessionWrites: string[] = [];
  sessionEnds = 0;
  private abandonFn: (() => void) | null = null;
  private readonly sessionValue: Session | null;

  constructor(opts: FakeExchangeOptions) {
    this.head = typeof opts.request === 'string' ? headOf(opts.request) : opts.request;
    this.server = opts.server;
    const p = plan(this.head, opts.server);
    this.location = p.location;
    this.path = p.path;
    this.launcher = opts.launcher;
    this.dialer = opts.dialer ?? new NodeDialer();
    this.sessionValue = opts.session ?? null;
    this.remoteAddress = opts.remoteAddress ?? '192.0.2.7';
    this.remotePort = opts.remotePort ?? 51000;
    this.localAddress = opts.localAddress ?? '127.0.0.1';
    this.localPort = opts.localPort ?? 8080;
    this.secure = opts.secure ?? false;
  }

  respond(res: Response): void {
    this.responses.push(res);
  }
  resumeBody(): void {
    this.resumeBodyCalls++;
  }
  reroute(target: string): void {
    this.reroutes.push(target);
  }
  /** No connection to take over: the switch is refused, as for a request that can no longer be upgraded. */
  upgrade(res: Response, _events: TunnelEvents): Tunnel | null {
    this.responses.push(res);
    return null;
  }
  logError(message: string): void {
    this.errors.push(message);
  }
  session(): Session | null {
    return this.sessionValue;
  }
  setSessionData(data: string): boolean {
    this.sessionWrites.push(data);
    if (this.sessionValue === null) return false;
    this.sessionValue.data = data;
    return true;
  }
  endSession(): void {
    this.sessionEnds++;
  }
  commitSession(done: (ok: boolean) => void): void {
    done(true);
  }
  onAbandon(fn: () => void): void {
    this.abandonFn = fn;
  }
  timer(at: number, fn: () => void): () => void {
    const t: FakeTimer = { at, fn, cancelled: false, fired: false };
    this.timers.push(t);
    return () => {
      t.cancelled = true;
    };
  }

  // ─── What the test does ──

  /** The connection closed with the request unanswered: runs what onAbandon registered. */
  abandon(): void {
    const fn = this.abandonFn;
    if (fn === null) throw new Error('FakeExchange: nothing registered with onAbandon');
    fn();
  }

  /** Timers neither fired nor cancelled. */
  get pending(): FakeTimer[] {
    return this.timers.filter((t) => !t.cancelled && !t.fired);
  }

  /** Fires every pending timer due by `now` (all of them by default), in the order they were asked for; returns how
   *  many fired. Timers asked for while firing wait for the next call. */
  fireTimers(now = Infinity): number {
    const due = this.pending.filter((t) => t.at <= now);
    for (const t of due) {
      if (t.cancelled) continue;
      t.fired = true;
      t.fn();
    }
    return due.length;
  }

  /** The one response given (fails unless there is exactly one). */
  get response(): Response {
    if (this.responses.length !== 1) throw new Error(`FakeExchange: ${this.responses.length} responses, not one`);
    const r = this.responses[0];
    if (r === undefined) throw new Error('unreachable');
    return r;
  }
}

/** A BodySink that records what a source pushes; `accepts` false makes push() ask for a pause. */
export class FakeSink implements BodySink {
  readonly chunks: Buffer[] = [];
  accepts = true;
  ended = false;
  failure: string | null = null;

  push(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk));
    return this.accepts;
  }
  end(): void {
    if (this.ended) throw new Error('FakeSink: end() twice');
    this.ended = true;
  }
  fail(reason: string): void {
    this.failure = reason;
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}
