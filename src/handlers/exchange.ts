/**
 * The contract between a connection and the handlers: handlers see an Exchange, never a socket.
 */
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
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Sends the answer; the first call wins, later calls are ignored. */
  respond(res: Response): void;
  /** Reads more of the request body after a BodyReceiver returned false from data(). */
  resumeBody(): void;
  /** Writes a line to the server's error log. */
  logError(message: string): void;
  /**
   * The client's session when the location has `session on` (DESIGN §7): the one named by its `sid` cookie, or a
   * new one whose cookie the response will set. Null when sessions are off for this location.
   */
  session(): Session | null;
  /** Stores new session data (URL-encoded form string); false when it is over the size cap and was not stored. */
  setSessionData(data: string): boolean;
  /** Ends the session (logout): it is removed from the store and the response expires its cookie. */
  endSession(): void;
  /** Registers `fn`, called once if the connection closes before a response was written (the client left). */
  onAbandon(fn: () => void): void;
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

/** A handler starts on a request head; it returns a receiver for the body, or null to have the body discarded. */
export type Handler = (ex: Exchange) => BodyReceiver | null;
