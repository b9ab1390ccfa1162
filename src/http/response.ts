/**
 * Responses as values: what a handler answers, and how its head is serialised (RFC 9112 §4, §6).
 * Handlers build a Response; only the connection writes it to a socket.
 */
import { reasonPhrase } from './status.js';

/** A slice of an open file to send, optionally preceded by fixed bytes (multipart/byteranges part heads). */
export interface FilePart {
  readonly pre: Buffer | null;
  /** First byte offset in the file. */
  readonly start: number;
  /** One past the last byte offset. */
  readonly end: number;
}

/** Where a streamed body comes from (a CGI script's stdout). */
export interface BodySource {
  /** Begins delivery into `sink`; called once by the connection. */
  start(sink: BodySink): void;
  /** The client cannot take more now; stop pushing until resume(). */
  pause(): void;
  resume(): void;
  /** The client went away or the exchange is over: stop and release everything (e.g. kill the script). */
  abort(): void;
}

/** What a BodySource pushes into. */
export interface BodySink {
  /** A piece of the body; false asks the source to pause until its resume() is called. */
  push(chunk: Buffer): boolean;
  /** The body is complete. */
  end(): void;
  /** The source failed mid-body: the connection is closed (the client sees a truncated response). */
  fail(reason: string): void;
}

export type Body =
  | { readonly kind: 'none' }
  | { readonly kind: 'bytes'; readonly data: Buffer }
  /** Parts of an open file; the connection closes `fd` when done (or on abort). */
  | { readonly kind: 'file'; readonly fd: number; readonly parts: readonly FilePart[]; readonly tail: Buffer | null }
  | { readonly kind: 'stream'; readonly source: BodySource };

/** A complete answer from a handler. */
export interface Response {
  readonly status: number;
  /** Extra header lines, each `Name: value\r\n` (Date, Server, Content-Length, Transfer-Encoding and Connection
   *  are added by the writer). Build them with `headerLine`. */
  readonly headers: string;
  readonly body: Body;
  /** Content-Length of the body; -1 when unknown (chunked for HTTP/1.1, close-delimited for 1.0). */
  readonly length: number;
  /** Close the connection after this response whatever the request asked. */
  readonly close?: boolean;
}

export const NO_BODY: Body = { kind: 'none' };

/** One header line; CR, LF and NUL are removed from the value so a value can never split the head. */
export function headerLine(name: string, value: string): string {
  return `${name}: ${/[\r\n\0]/.test(value) ? value.replace(/[\r\n\0]/g, '') : value}\r\n`;
}

/** A response with a small in-memory body. */
export function bytesResponse(status: number, contentType: string, data: Buffer, headers = ''): Response {
  return {
    status,
    headers: `Content-Type: ${contentType}\r\n${headers}`,
    body: { kind: 'bytes', data },
    length: data.length,
  };
}

export const SERVER_NAME = 'localhost/0.1.0';

let dateSecond = -1;
let dateLine = '';

/** The `Date:` line (RFC 9110 §6.6.1), formatted at most once per second. */
export function dateHeaderLine(nowMs: number): string {
  const sec = Math.floor(nowMs / 1000);
  if (sec !== dateSecond) {
    dateSecond = sec;
    dateLine = `Date: ${new Date(sec * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

const statusLines = new Map<number, string>();

/** `HTTP/1.1 200 OK\r\n` with the fixed Server line, cached per status. */
function statusLine(status: number): string {
  let s = statusLines.get(status);
  if (s === undefined) {
    s = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nServer: ${SERVER_NAME}\r\n`;
    statusLines.set(status, s);
  }
  return s;
}

/** How the body of a response is framed on the wire. */
export type Framing = 'length' | 'chunked' | 'close' | 'none';

/**
 * Serialises a response head. `framing` decides between Content-Length, chunked and close-delimited; a
 * response that must not carry a body (1xx, 204, 304) gets no framing header (RFC 9112 §6.3).
 */
export function serializeHead(res: Response, framing: Framing, keepAlive: boolean, nowMs: number): string {
  let head = statusLine(res.status) + dateHeaderLine(nowMs) + res.headers;
  if (framing === 'length') head += `Content-Length: ${res.length}\r\n`;
  else if (framing === 'chunked') head += 'Transfer-Encoding: chunked\r\n';
  head += keepAlive ? 'Connection: keep-alive\r\n\r\n' : 'Connection: close\r\n\r\n';
  return head;
}

/**
 * The head of a 101 Switching Protocols (RFC 9110 §15.2.2): `res.headers` carries the Upgrade field; no framing,
 * and `Connection: upgrade` (§7.8), after which the connection no longer speaks HTTP.
 */
export function serializeSwitchHead(res: Response, nowMs: number): string {
  return statusLine(res.status) + dateHeaderLine(nowMs) + res.headers + 'Connection: upgrade\r\n\r\n';
}
