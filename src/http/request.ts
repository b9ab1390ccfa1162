/**
 * The parsed request head and the typed outcomes of parsing (RFC 9112 §2-§7).
 */

/** A request head as the parser produces it; the body is read separately (see body.ts). */
export interface RequestHead {
  /** Method token exactly as sent (methods are case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** The request-target exactly as sent (origin-form, absolute-form, authority-form or "*"). */
  readonly target: string;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1;
  /**
   * Header fields by lower-case name. Repeated fields are joined with ", " (RFC 9110 §5.3),
   * `cookie` with "; ". Host, Content-Length and Transfer-Encoding may not repeat (400).
   */
  readonly headers: Map<string, string>;
  /** Value of Content-Length, or -1 when absent. */
  readonly contentLength: number;
  /** True when `Transfer-Encoding: chunked` frames the body. */
  readonly chunked: boolean;
  /** Whether the connection may stay open after this exchange (version + Connection header). */
  readonly keepAlive: boolean;
  /** The Host header (or the authority of an absolute-form target), lower case, port stripped; "" when absent. */
  readonly host: string;
  /** Path part of the target, not yet percent-decoded ("*" for the asterisk-form of `OPTIONS *`). */
  readonly rawPath: string;
  /** Query part of the target without the "?", "" when absent. */
  readonly query: string;
  /** `Expect: 100-continue` was sent. */
  readonly expectContinue: boolean;
}

/** HTTP status codes the parser can answer with. */
export type ParseErrorStatus = 400 | 413 | 414 | 431 | 501 | 505;

/** A request the server must refuse: the status to send, and why (for the error log). */
export interface ParseError {
  readonly status: ParseErrorStatus;
  readonly reason: string;
}

/** Limits of docs/ARCHITECTURE.md "HTTP/1.1 rules". */
export interface HeadLimits {
  /** Longest request line in bytes (414 beyond it). */
  readonly maxRequestLine: number;
  /** Largest header section in bytes, request line included (431 beyond it). */
  readonly maxHeaderBytes: number;
  /** Most header fields (431 beyond it). */
  readonly maxHeaderCount: number;
}

export const DEFAULT_LIMITS: HeadLimits = {
  maxRequestLine: 8 * 1024,
  maxHeaderBytes: 32 * 1024,
  maxHeaderCount: 100,
};

/** Methods every server recognizes, whatever its configuration says (RFC 9110 §9.1): OPTIONS answers 204 with
 *  Allow, TRACE is always 405 (it would echo credentials back, §9.3.8). Any other token is recognized where a
 *  location of the server lists it in `methods`, and is 501 elsewhere (router/dispatch.ts). */
export const BUILTIN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS', 'TRACE']);
