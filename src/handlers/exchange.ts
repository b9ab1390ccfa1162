/**
 * The contract between a connection and the handlers (docs/ARCHITECTURE.md "Exchanges"): handlers see an
 * Exchange, never a socket; they answer through respond(), read a body by returning a BodyReceiver, and reach the
 * operating system only through the launcher and the sweep's timers.
 */
import type { Dialer, Launcher } from '../server/transport.js';
import type { LocationConfig, ServerConfig } from '../config/types.js';
import type { RequestHead } from '../http/request.js';
import type { Response } from '../http/response.js';
import type { Session } from '../session/store.js';

/** One request being answered. */
export interface Exchange {
  readonly head: RequestHead;
  /** The server block chosen by address and Host. */
  readonly server: ServerConfig;
  /** The matched location; null when none matches. */
  readonly location: LocationConfig | null;
  /** The percent-decoded, dot-segment-free path. */
  readonly path: string;
  /** The client's address and port: set_real_ip_from's when the peer is trusted, else the peer's. */
  readonly remoteAddress: string;
  /** 0 when a realip header named no port (nginx's `$remote_port` is then empty). */
  readonly remotePort: number;
  /** The connection's own peer ($realip_remote_addr, $realip_remote_port). */
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** The request came over TLS (docs/ARCHITECTURE.md "TLS"). */
  readonly secure: boolean;
  /** The user auth_basic let in (REMOTE_USER, `$remote_user`); null when none. */
  readonly remoteUser: string | null;
  /** Sends the answer; the first call wins, later calls are ignored. */
  respond(res: Response): void;
  /** Reads more of the request body after a BodyReceiver returned false from data(). */
  resumeBody(): void;
  /** Writes a line to the server's error log. */
  logError(message: string): void;
  /**
   * The client's session when the location has `session on` (docs/ARCHITECTURE.md "Sessions"): the one named by its `sid` cookie, or a
   * fresh one, stored (and its cookie set) only once data is written into it. Null when sessions are off here.
   */
  session(): Session | null;
  /** Stores new session data (URL-encoded form string); false when it is over the size cap and was not stored. */
  setSessionData(data: string): boolean;
  /** Ends the session (logout): it is removed from the store and the response expires its cookie. */
  endSession(): void;
  /** Makes setSessionData's and endSession's changes durable; `done(false)` when the store failed (answer 503). At
   *  once in memory; after Redis acknowledged the write otherwise. */
  commitSession(done: (ok: boolean) => void): void;
  /** Registers `fn`, called once if the connection closes before a response was written (the client left). */
  onAbandon(fn: () => void): void;
  /**
   * Serves this request again, internally, as a GET (HEAD stays HEAD) of `target`, a local path with an optional
   * query (RFC 3875 §6.2.2's local redirect): the original headers minus the body's, the answer from wherever it
   * lands. After 10 in a row the answer is 500.
   */
  reroute(target: string): void;
  /** Runs `fn` on the first tick of the timeout sweep at or after `at` (ms since epoch); returns its cancel. */
  timer(at: number, fn: () => void): () => void;
  /**
   * Switches protocols (RFC 9110 §7.8, §15.2.2): `res` (a 101 head; its headers carry the Upgrade field, the
   * connection adds `Connection: upgrade`) is written, and the client connection leaves HTTP: from then on its raw
   * bytes go to `events` and the returned Tunnel writes raw bytes to it, until either side closes. Null when the
   * request can no longer be upgraded (an answer already started, the client gone). Only for a request without a
   * body.
   */
  upgrade(res: Response, events: TunnelEvents): Tunnel | null;
  /** Starts child processes (CGI scripts). */
  readonly launcher: Launcher;
  /** Opens connections to upstreams (the proxy, FastCGI). */
  readonly dialer: Dialer;
}

/** What the client end of a tunnel reports (docs/ARCHITECTURE.md "The connection"; the rules of TransportEvents). */
export interface TunnelEvents {
  /** Raw bytes from the client (owned by the receiver). */
  onData(chunk: Buffer): void;
  /** The client ended its side (FIN); writing may go on. */
  onEnd(): void;
  /** The client took what was queued after a write returned false. */
  onDrain(): void;
  /** The client connection is closed (either side, an error, a timeout); nothing more will happen. */
  onClose(): void;
}

/** The client end of a tunnel: a handler's narrow view of the connection once it left HTTP. */
export interface Tunnel {
  /** Bytes the client sent after the request head, before the switch (theirs now: RFC 9110 §7.8). */
  readonly early: Buffer;
  /** Queues raw bytes to the client; false past the high-water mark: wait for onDrain. */
  write(data: Buffer): boolean;
  /** Stops reading from the client until resume(). */
  pause(): void;
  resume(): void;
  /** Half-closes (FIN) once everything queued is written; reading goes on. */
  end(): void;
  /** Closes once everything queued is written. */
  close(): void;
  /** Closes at once. */
  destroy(): void;
}

/** Receives a request body, already de-chunked. Returned by a handler that wants the body. */
export interface BodyReceiver {
  /** A piece of the body (valid only during the call unless copied); false pauses reading until resumeBody(). */
  data(chunk: Buffer): boolean;
  /** The whole body arrived. */
  end(): void;
  /** The body will not complete (client gone, timeout, over the limit): discard everything written so far. */
  abort(): void;
}

/** What the router resolved for a file handler: the location's root, and the request path mapped under it. */
export interface FileTarget {
  readonly root: string;
  readonly file: string;
}

/**
 * A handler starts on a request head and what the router resolved for it; it answers through the exchange (at
 * once or later), and returns a receiver for the request body, or null to have the body discarded.
 */
export type Handler<T> = (ex: Exchange, target: T) => BodyReceiver | null;
