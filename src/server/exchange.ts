/**
 * The Exchange a connection hands to handlers for one request (docs/ARCHITECTURE.md "Exchanges"). It forwards
 * to its connection, which ignores it once its request is over (a late respond() from a finished handler, say).
 */
import type { LocationConfig, ServerConfig } from '../config/types.js';
import type { Exchange, Tunnel, TunnelEvents } from '../handlers/exchange.js';
import type { RequestHead } from '../http/request.js';
import type { Response } from '../http/response.js';
import { MemorySessionBinding, type SessionBinding } from '../session/binding.js';
import { RedisSessionBinding } from '../session/redis-store.js';
import type { Session } from '../session/store.js';
import type { Runtime } from './runtime.js';
import type { Dialer, Launcher } from './transport.js';

/** What an exchange needs from its connection. */
export interface ExchangeHost {
  readonly runtime: Runtime;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly secure: boolean;
  readonly remoteUser: string | null;
  respond(ex: ConnExchange, res: Response): void;
  resumeBody(ex: ConnExchange): void;
  reroute(ex: ConnExchange, target: string): void;
  upgrade(ex: ConnExchange, res: Response, events: TunnelEvents): Tunnel | null;
}

/** One request being answered. */
export class ConnExchange implements Exchange {
  /** Set by onAbandon; run by the connection when it closes with this request unanswered. */
  abandon: (() => void) | null = null;

  constructor(
    private readonly host: ExchangeHost,
    readonly head: RequestHead,
    readonly server: ServerConfig,
    readonly location: LocationConfig | null,
    readonly path: string,
    /** Internal redirects that led here (see reroute). */
    readonly depth = 0,
    /** The session binding, made on first use in a `session on` location (null elsewhere); shared by reroutes. */
    private binding?: SessionBinding | null,
  ) {}

  get remoteAddress(): string {
    return this.host.remoteAddress;
  }
  get remotePort(): number {
    return this.host.remotePort;
  }
  get peerAddress(): string {
    return this.host.peerAddress;
  }
  get peerPort(): number {
    return this.host.peerPort;
  }
  get localAddress(): string {
    return this.host.localAddress;
  }
  get localPort(): number {
    return this.host.localPort;
  }
  get secure(): boolean {
    return this.host.secure;
  }
  get remoteUser(): string | null {
    return this.host.remoteUser;
  }
  get launcher(): Launcher {
    return this.host.runtime.services.launcher;
  }

  get dialer(): Dialer {
    return this.host.runtime.services.dialer;
  }

  respond(res: Response): void {
    this.host.respond(this, res);
  }
  resumeBody(): void {
    this.host.resumeBody(this);
  }
  reroute(target: string): void {
    this.host.reroute(this, target);
  }
  upgrade(res: Response, events: TunnelEvents): Tunnel | null {
    return this.host.upgrade(this, res, events);
  }
  timer(at: number, fn: () => void): () => void {
    return this.host.runtime.services.sweep.at(at, fn);
  }
  logError(message: string): void {
    this.host.runtime.logs.error(message);
  }
  onAbandon(fn: () => void): void {
    this.abandon = fn;
  }

  /** The binding, for an internal redirect that keeps this request's session. */
  sessionBinding(): SessionBinding | null {
    return (this.binding ??= this.makeBinding());
  }
  private makeBinding(): SessionBinding | null {
    if (this.location?.session !== true) return null;
    const cookie = this.head.headers.get('cookie');
    const sessions = this.host.runtime.sessions;
    const remote = sessions.redisFor(this.server);
    if (remote !== null) return new RedisSessionBinding(remote, cookie, this.remoteAddress, this.secure);
    return new MemorySessionBinding(sessions.for(this.server), cookie, this.remoteAddress, this.secure);
  }
  /** Makes the handler's session changes durable before its answer (Redis: the write acknowledged). */
  commitSession(done: (ok: boolean) => void): void {
    const b = this.sessionBinding();
    if (b === null) done(true);
    else b.commit(done);
  }
  session(): Session | null {
    return this.sessionBinding()?.get() ?? null;
  }
  setSessionData(data: string): boolean {
    return this.sessionBinding()?.setData(data) ?? false;
  }
  endSession(): void {
    this.sessionBinding()?.end();
  }
  /** The Set-Cookie line the response must carry ("" for none). */
  cookieLine(): string {
    return this.binding?.setCookieLine() ?? '';
  }
}
