/**
 * One client connection as an explicit state machine (lighttpd-style). Every state change goes through
 * `enter()`; handlers see an Exchange and never the socket.
 *
 *   head ──request head──▶ body ──body complete──▶ handling ──respond()──▶ writing ──done──▶ idle ─bytes─▶ head
 *     │ (no body) ─────────────────────────────────▲                                  │ (close) ─▶ closing ─▶ closed
 *
 * Timeouts are deadlines checked by one periodic sweep (timeouts.ts), not a timer per read.
 */
import type * as net from 'node:net';
import * as fs from 'node:fs';
import type { LocationConfig, ServerConfig, Timeouts } from '../config/types.js';
import { DEFAULTS } from '../config/types.js';
import { ChunkedDecoder } from '../http/chunked.js';
import { HeadParser, type HeadResult } from '../http/request-parser.js';
import type { RequestHead } from '../http/request.js';
import { serializeHead, type Body, type BodySink, type BodySource, type FilePart, type Framing, type Response } from '../http/response.js';
import { statusHasNoBody } from '../http/status.js';
import { errorResponse } from '../handlers/error-page.js';
import type { BodyReceiver, Exchange } from '../handlers/exchange.js';
import { plan } from '../router/dispatch.js';
import { plainAddress, type VHostGroup } from '../router/vhost.js';
import { parseCookieHeader } from '../session/cookies.js';
import type { Session } from '../session/store.js';
import type { Runtime } from './runtime.js';

/** What a connection knows of the socket that accepted it. */
export interface ListenerInfo {
  /** The port it was accepted on. */
  readonly port: number;
  /** The servers reachable through it when that does not depend on the local address; undefined when it does
   *  (a wildcard bound beside specific addresses on the same port). */
  readonly group: VHostGroup | null | undefined;
}

/** Where a socket keeps its Connection, for the shared event handlers below. */
const CONN = Symbol('connection');
interface ConnSocket extends net.Socket {
  [CONN]: Connection;
}

function onSocketData(this: net.Socket, chunk: Buffer): void {
  (this as ConnSocket)[CONN].onData(chunk);
}
function onSocketEnd(this: net.Socket): void {
  (this as ConnSocket)[CONN].onEnd();
}
function onSocketDrain(this: net.Socket): void {
  (this as ConnSocket)[CONN].onDrain();
}
/** ECONNRESET, EPIPE...: 'close' follows and cleans up. */
function onSocketError(): void {}
function continuePump(c: Connection): void {
  c.continuePump();
}
function onSocketClose(this: net.Socket): void {
  (this as ConnSocket)[CONN].onClose();
}

/** The named states of a connection. */
export type ConnState = 'head' | 'body' | 'handling' | 'writing' | 'idle' | 'closing' | 'closed';

/** Largest piece of a file read at once (DESIGN §2). */
const FILE_CHUNK = 64 * 1024;
/** Bytes a file response may leave queued in its socket before waiting for 'drain'. */
const QUEUE_MAX = 256 * 1024;
/** A read buffer shared by all file responses, reused while writes complete synchronously. */
let scratch: Buffer | null = null;
/** Bytes of a file written in one turn of the loop before yielding to other clients. */
const TURN_BUDGET = 1024 * 1024;
/** How long a closing connection may keep sending us bytes we discard (NGINX's lingering_time). */
const LINGER_MS = 2000;
/** Bytes we buffer past the current request (pipelined requests) before we stop reading. */
const MAX_BUFFERED = 64 * 1024;

const CHUNK_END = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

const FALLBACK_TIMEOUTS: Timeouts = DEFAULTS.timeouts;

/** The session cookie's name (DESIGN §7). */
const SID = 'sid';

/** The Exchange handed to handlers for one request. Stale once its request is over. */
class ConnExchange implements Exchange {
  private sess: Session | null | undefined = undefined;
  /** A Set-Cookie line the response must carry ("" for none). */
  cookieLine = '';

  constructor(
    private readonly conn: Connection,
    readonly head: RequestHead,
    readonly server: ServerConfig,
    readonly location: LocationConfig | null,
    readonly path: string,
  ) {}

  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }
  get remotePort(): number {
    return this.conn.remotePort;
  }
  get localAddress(): string {
    return this.conn.localAddress;
  }
  get localPort(): number {
    return this.conn.localPort;
  }
  respond(res: Response): void {
    this.conn.respond(this, res);
  }
  resumeBody(): void {
    this.conn.resumeBody(this);
  }
  logError(message: string): void {
    this.conn.runtime.logs.error(message);
  }
  session(): Session | null {
    if (this.sess !== undefined) return this.sess;
    if (this.location?.session !== true) return (this.sess = null);
    const cookie = this.head.headers.get('cookie');
    const id = cookie !== undefined ? parseCookieHeader(cookie).get(SID) : undefined;
    const { session, created } = this.conn.runtime.sessions.for(this.server).resolve(id);
    if (created) this.cookieLine = `Set-Cookie: ${SID}=${session.id}; Path=/; HttpOnly; SameSite=Lax\r\n`;
    return (this.sess = session);
  }
  setSessionData(data: string): boolean {
    const s = this.session();
    return s !== null && this.conn.runtime.sessions.for(this.server).setData(s, data);
  }
  onAbandon(fn: () => void): void {
    this.abandon = fn;
  }
  /** Set by onAbandon; run by the connection when it closes with this request unanswered. */
  abandon: (() => void) | null = null;
  endSession(): void {
    const s = this.session();
    if (s === null) return;
    this.conn.runtime.sessions.for(this.server).destroy(s.id);
    this.cookieLine = `Set-Cookie: ${SID}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax\r\n`;
  }
}

/** Reads and drops a body nobody wants (so the connection can be kept alive). */
const DISCARD: BodyReceiver = { data: () => true, end: () => undefined, abort: () => undefined };

export class Connection {
  state: ConnState = 'head';
  /** When the current state times out (ms since epoch); Infinity for none. */
  deadline: number;

  // Addresses cost a system call each (getpeername/getsockname): looked up only when something needs them.
  private remoteAddr: string | null = null;
  private localAddr: string | null = null;

  private readonly group: VHostGroup | null;
  private readonly parser = new HeadParser();
  /** Unparsed input: buf[off, buf.length). */
  private buf: Buffer | null = null;
  private off = 0;
  private advancing = false;
  private paused = false;
  private peerEnded = false;
  /** The client may still be sending when we close: linger (see closeGracefully). */
  private linger = false;

  // The request in progress.
  private exchange: ConnExchange | null = null;
  private receiver: BodyReceiver | null = null;
  private bodyLeft = 0;
  private chunked: ChunkedDecoder | null = null;
  private bodyLimit = 0;
  private bodyDone = true;
  private receiverPaused = false;
  /** What to run when a discarded body ends (handlers that do not read bodies start after it). */
  private afterBody: ((ex: ConnExchange) => void) | null = null;
  private timeouts: Timeouts;

  // The response in progress.
  private keepAlive = false;
  /** TCP_NODELAY is on (set on the first response that needs it, see write()). */
  private noDelay = false;
  private framing: Framing = 'none';
  private file: { fd: number; parts: readonly FilePart[]; tail: Buffer | null; part: number; pos: number; preSent: boolean } | null = null;
  private source: BodySource | null = null;
  private status = 0;
  /** Body bytes sent for the current response (NGINX's $body_bytes_sent, for the access log). */
  private bytesOut = 0;

  constructor(
    readonly socket: net.Socket,
    readonly runtime: Runtime,
    private readonly listener: ListenerInfo,
    private readonly onClosed: (c: Connection) => void,
  ) {
    this.group = listener.group !== undefined ? listener.group : runtime.vhosts.group(this.localAddress, listener.port);
    this.timeouts = this.group?.fallback.timeouts ?? FALLBACK_TIMEOUTS;
    this.deadline = Date.now() + this.timeouts.header;
    runtime.counters.reading++;
    // Shared handlers, not closures: an idle connection should cost as little memory as possible.
    (socket as ConnSocket)[CONN] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('drain', onSocketDrain);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  get remoteAddress(): string {
    return (this.remoteAddr ??= plainAddress(this.socket.remoteAddress ?? ''));
  }
  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }
  get localAddress(): string {
    return (this.localAddr ??= plainAddress(this.socket.localAddress ?? ''));
  }
  get localPort(): number {
    return this.listener.port;
  }

  // ─── State transitions: the one place that changes `state` ───────────────────────────────────────────────

  private enter(next: ConnState, now: number): void {
    const c = this.runtime.counters;
    const prev = this.state;
    if (prev === 'closed') return;
    // Counters follow NGINX's stub_status: reading (head/body), writing (handling/writing), waiting (idle).
    if (prev === 'head' || prev === 'body') c.reading--;
    else if (prev === 'handling' || prev === 'writing') c.writing--;
    else if (prev === 'idle') c.waiting--;
    if (next === 'head' || next === 'body') c.reading++;
    else if (next === 'handling' || next === 'writing') c.writing++;
    else if (next === 'idle') c.waiting++;
    this.state = next;
    switch (next) {
      case 'head':
        if (prev !== 'head') this.deadline = now + this.timeouts.header;
        break;
      case 'body':
        this.deadline = now + this.timeouts.body;
        break;
      case 'handling':
        this.deadline = Infinity; // handlers (CGI) bound their own time
        break;
      case 'writing':
        this.deadline = now + this.timeouts.send;
        break;
      case 'idle':
        this.deadline = now + this.timeouts.keepalive;
        break;
      case 'closing':
        this.deadline = now + LINGER_MS;
        break;
      case 'closed':
        this.deadline = Infinity;
        break;
    }
  }

  /** Called by the sweep when `deadline` has passed. */
  expire(now: number): void {
    switch (this.state) {
      case 'head':
        // Half a head → 408 (DESIGN §5); a connection that never sent a byte is closed silently, as NGINX does.
        if (this.buf !== null && this.off < this.buf.length) this.fail(408, 'client header timeout', now);
        else this.destroy();
        break;
      case 'body':
        this.abortBody();
        this.fail(408, 'client body timeout', now);
        break;
      case 'writing':
        this.runtime.logs.error(`${this.remoteAddress}: send timeout`);
        this.destroy();
        break;
      case 'idle':
      case 'closing':
        this.destroy();
        break;
      case 'handling':
      case 'closed':
        break;
    }
  }

  // ─── Socket events ────────────────────────────────────────────────────────────────────────────────────────

  onData(chunk: Buffer): void {
    if (this.state === 'closing') {
      this.deadline = Math.min(this.deadline, Date.now() + LINGER_MS);
      return; // lingering close: drop input
    }
    if (this.state === 'closed') return;
    if (this.buf === null || this.off >= this.buf.length) {
      this.buf = chunk;
      this.off = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.off), chunk]);
      this.off = 0;
    }
    if (this.state === 'idle') this.enter('head', Date.now());
    else if (this.state === 'body') this.deadline = Date.now() + this.timeouts.body;
    this.advance();
  }

  onEnd(): void {
    this.peerEnded = true;
    switch (this.state) {
      case 'idle':
      case 'closing':
        this.destroy();
        break;
      case 'head':
        if (this.buf !== null && this.off < this.buf.length) this.fail(400, 'connection closed inside a request head', Date.now());
        else this.destroy();
        break;
      case 'body':
        // The client gave up on its own request: nothing to answer.
        this.abortBody();
        this.destroy();
        break;
      case 'handling':
      case 'writing':
        // A script still producing output is for nobody now (NGINX aborts upstreams on client close too).
        if (this.source !== null || this.state === 'handling') this.destroy();
        break;
      case 'closed':
        break;
    }
  }

  onDrain(): void {
    if (this.state !== 'writing') return;
    this.deadline = Date.now() + this.timeouts.send;
    if (this.file !== null) this.pumpFile();
    else if (this.source !== null) this.source.resume();
    else this.finishResponse();
  }

  onClose(): void {
    this.cleanup();
  }

  // ─── Reading requests ─────────────────────────────────────────────────────────────────────────────────────

  /** Consumes buffered input as far as the current state allows. */
  private advance(): void {
    if (this.advancing) return;
    this.advancing = true;
    try {
      for (;;) {
        const buf = this.buf;
        if (buf === null || this.off >= buf.length) {
          this.buf = null;
          this.off = 0;
          break;
        }
        if (this.state === 'head') {
          const r: HeadResult = this.parser.parse(buf, this.off, buf.length);
          if (r.kind === 'incomplete') break;
          if (r.kind === 'error') {
            this.fail(r.error.status, r.error.reason, Date.now());
            break;
          }
          this.off = r.end;
          this.startRequest(r.head);
        } else if (this.state === 'body') {
          if (!this.readBody(buf)) break;
        } else {
          // handling / writing: pipelined bytes wait; stop reading if too many pile up.
          if (buf.length - this.off > MAX_BUFFERED) this.pauseReading();
          break;
        }
      }
    } finally {
      this.advancing = false;
    }
  }

  private startRequest(head: RequestHead): void {
    const now = Date.now();
    this.runtime.counters.requests++;
    this.status = 0;
    this.bytesOut = 0;
    const group = this.group;
    const server = group?.select(head.host) ?? null;
    if (server === null) {
      this.fail(421, 'no server for this address', now);
      return;
    }
    this.timeouts = server.timeouts;
    const p = plan(head, server);
    const ex = new ConnExchange(this, head, server, p.location, p.path);
    this.exchange = ex;
    this.keepAlive = head.keepAlive && !this.runtime.shuttingDown;

    const hasBody = head.chunked || head.contentLength > 0;
    if (!hasBody) {
      this.bodyDone = true;
      this.enter('handling', now);
      this.run(ex, p.handler, p.wantsBody);
      return;
    }
    // Body framing and limit (DESIGN §5): reject a declared length over the limit before reading it.
    this.bodyLimit = server.bodyLimit;
    if (this.bodyLimit > 0 && head.contentLength > this.bodyLimit) {
      this.bodyDone = true;
      this.linger = true;
      this.enter('handling', now);
      this.respond(ex, errorResponse(server, 413, '', true));
      return;
    }
    this.bodyDone = false;
    this.bodyLeft = head.chunked ? 0 : head.contentLength;
    this.chunked = head.chunked ? new ChunkedDecoder() : null;
    this.enter('body', now);
    if (p.wantsBody) {
      this.run(ex, p.handler, true);
      if (this.exchange !== ex || this.state !== 'body') return; // answered at once (e.g. 404): body not wanted
    } else {
      this.receiver = DISCARD;
      this.afterBody = (e) => this.run(e, p.handler, false);
    }
    if (head.expectContinue && head.minor === 1) this.socket.write(CONTINUE);
  }

  /** Starts a handler; a handler that throws is a 500, never a crash. A handler that wants the body of a
   *  request without one (length 0) gets its end at once. */
  private run(ex: ConnExchange, handler: (ex: Exchange) => BodyReceiver | null, wantsBody: boolean): void {
    try {
      const receiver = handler(ex);
      if (!wantsBody || receiver === null || this.exchange !== ex) return;
      if (this.state === 'body') this.receiver = receiver;
      else if (this.bodyDone && this.status === 0) receiver.end();
    } catch (err) {
      this.runtime.logs.error(`handler failed for ${ex.head.method} ${ex.head.target}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      if (this.exchange === ex && this.status === 0) this.respond(ex, errorResponse(ex.server, 500, '', true));
    }
  }

  /** Feeds buffered body bytes to the receiver; false when more input is needed (or reading must wait). */
  private readBody(buf: Buffer): boolean {
    if (this.receiverPaused) return false;
    const receiver = this.receiver ?? DISCARD;
    if (this.chunked !== null) {
      const dec = this.chunked;
      let wantMore = true;
      const end = dec.decode(buf, this.off, buf.length, (chunk) => {
        if (!receiver.data(chunk)) wantMore = false;
      });
      this.off = end;
      if (dec.error !== null) {
        this.abortBody();
        this.fail(dec.error.status, dec.error.reason, Date.now());
        return false;
      }
      if (this.bodyLimit > 0 && dec.received > this.bodyLimit) {
        this.abortBody();
        this.fail(413, 'chunked body over body_limit', Date.now());
        return false;
      }
      if (!wantMore) this.pauseBody();
      if (dec.done) {
        this.endBody();
        return true;
      }
      return false;
    }
    const n = Math.min(this.bodyLeft, buf.length - this.off);
    const piece = buf.subarray(this.off, this.off + n);
    this.off += n;
    this.bodyLeft -= n;
    const more = receiver.data(piece);
    if (!more) this.pauseBody();
    if (this.bodyLeft === 0) {
      this.endBody();
      return true;
    }
    return false;
  }

  private endBody(): void {
    this.bodyDone = true;
    this.chunked = null;
    const receiver = this.receiver;
    const after = this.afterBody;
    const ex = this.exchange;
    this.receiver = null;
    this.afterBody = null;
    this.receiverPaused = false;
    if (this.state === 'body') this.enter('handling', Date.now());
    if (receiver !== null && receiver !== DISCARD) receiver.end();
    if (after !== null && ex !== null && this.exchange === ex) after(ex);
  }

  private abortBody(): void {
    const r = this.receiver;
    this.receiver = null;
    this.afterBody = null;
    this.chunked = null;
    this.bodyDone = true;
    if (r !== null && r !== DISCARD) {
      try {
        r.abort();
      } catch (err) {
        this.runtime.logs.error(`body abort failed: ${String(err)}`);
      }
    }
  }

  private pauseBody(): void {
    this.receiverPaused = true;
    this.pauseReading();
  }

  /** Called through Exchange.resumeBody when a receiver can take more. */
  resumeBody(ex: ConnExchange): void {
    if (ex !== this.exchange || !this.receiverPaused) return;
    this.receiverPaused = false;
    this.resumeReading();
    if (this.state === 'body') this.advance();
  }

  private pauseReading(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private resumeReading(): void {
    if (this.paused && !this.receiverPaused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  // ─── Writing responses ────────────────────────────────────────────────────────────────────────────────────

  /** Answers with an error page and closes: for malformed requests, timeouts and limits. */
  private fail(status: number, reason: string, now: number): void {
    if (status !== 408 && status !== 413) this.runtime.logs.info(`${this.remoteAddress}: ${status} ${reason}`);
    if (this.state === 'writing' || this.status !== 0) {
      // A response is already on the wire: the only honest thing left is to close.
      this.destroy();
      return;
    }
    const server = this.exchange?.server ?? this.group?.fallback ?? null;
    if (this.exchange === null) this.runtime.counters.requests++;
    this.keepAlive = false;
    this.linger = true;
    this.enter('handling', now);
    this.write(errorResponse(server, status, '', true), this.exchange?.head ?? null);
  }

  /** Exchange.respond: the first answer for the current request is written; anything else is ignored. */
  respond(ex: ConnExchange, res: Response): void {
    if (ex !== this.exchange || this.status !== 0 || this.state === 'closed' || this.state === 'closing') {
      releaseBody(res.body);
      return;
    }
    if (ex.location?.session === true) {
      ex.session();
      if (ex.cookieLine !== '') res = { ...res, headers: res.headers + ex.cookieLine };
    }
    if (this.state === 'body') {
      // Answered before the body was read (an error, or a handler that did not need it): close afterwards.
      this.abortBody();
      this.keepAlive = false;
      this.linger = true;
    }
    this.write(res, ex.head);
  }

  private write(res: Response, head: RequestHead | null): void {
    const now = Date.now();
    this.status = res.status;
    const isHead = head?.method === 'HEAD';
    let keepAlive = this.keepAlive && res.close !== true && !this.peerEnded && !this.runtime.shuttingDown;
    let framing: Framing;
    if (statusHasNoBody(res.status)) framing = 'none';
    else if (res.length >= 0) framing = 'length';
    else if (head !== null && head.minor === 1) framing = 'chunked';
    else {
      framing = 'close';
      keepAlive = false;
    }
    this.keepAlive = keepAlive;
    this.framing = framing;
    if (this.state !== 'writing') this.enter('writing', now);
    const body = res.body;
    const sendBody = !isHead && framing !== 'none';
    // Nagle's algorithm holds a small segment only while an earlier one is unacknowledged. A response written at
    // once and then closed never waits on it (closing pushes what is queued), so, as NGINX does, TCP_NODELAY is set
    // only on a connection that stays open or a response written in several pieces: one syscall fewer per
    // `Connection: close` request.
    if (!this.noDelay && (keepAlive || (sendBody && body.kind !== 'none' && !(body.kind === 'bytes' && framing === 'length')))) {
      this.noDelay = true;
      this.socket.setNoDelay(true);
    }
    if (sendBody && body.kind === 'bytes' && framing === 'length') {
      this.bytesOut += body.data.length;
      this.sendAndFinish(wireBytes(res, body.data, keepAlive, now));
      return;
    }
    const headStr = serializeHead(res, framing, keepAlive, now);
    if (!sendBody || body.kind === 'none') {
      releaseBody(body);
      this.sendAndFinish(Buffer.from(headStr, 'latin1'));
      return;
    }
    if (body.kind === 'bytes') {
      // Close-delimited or chunked in-memory bodies (rare): head, then the bytes.
      this.socket.write(headStr, 'latin1');
      this.bytesOut += body.data.length;
      if (framing === 'chunked') {
        this.socket.write(body.data.length.toString(16) + '\r\n', 'latin1');
        this.socket.write(body.data);
        this.sendAndFinish(Buffer.from('\r\n0\r\n\r\n', 'latin1'));
      } else {
        this.sendAndFinish(body.data);
      }
      return;
    }
    this.socket.write(headStr, 'latin1');
    if (body.kind === 'file') {
      this.file = { fd: body.fd, parts: body.parts, tail: body.tail, part: 0, pos: body.parts[0]?.start ?? 0, preSent: false };
      this.pumpFile();
      return;
    }
    this.source = body.source;
    body.source.start(this.makeSink(body.source));
  }

  /** Writes the last bytes of a response; the exchange completes when the socket accepted them. */
  private sendAndFinish(data: Buffer): void {
    if (this.socket.write(data)) this.finishResponse();
    // else: 'drain' finishes it (onDrain with no file and no source).
  }

  /**
   * Sends file parts in bounded reads, paced by the socket: reads continue while less than QUEUE_MAX bytes wait in
   * the socket's queue, then 'drain' resumes. One scratch buffer is reused while the kernel takes each chunk at
   * once (the common case on a fast client), so a large download allocates almost nothing.
   */
  private pumpFile(): void {
    const f = this.file;
    if (f === null || this.state !== 'writing') return;
    const socket = this.socket;
    let budget = TURN_BUDGET;
    try {
      while (f.part < f.parts.length) {
        const part = f.parts[f.part]!;
        if (!f.preSent) {
          f.preSent = true;
          if (part.pre !== null) {
            this.bytesOut += part.pre.length;
            socket.write(part.pre);
          }
        }
        if (f.pos >= part.end) {
          f.part++;
          f.preSent = false;
          f.pos = f.parts[f.part]?.start ?? 0;
          continue;
        }
        if (socket.writableLength >= QUEUE_MAX) return; // 'drain' continues
        const n = Math.min(FILE_CHUNK, part.end - f.pos);
        let chunk = scratch;
        if (chunk === null || chunk.length < n) chunk = Buffer.allocUnsafe(FILE_CHUNK);
        const got = fs.readSync(f.fd, chunk, 0, n, f.pos);
        if (got === 0) {
          // The file shrank under us: the promised length cannot be kept, so the connection must end.
          this.runtime.logs.error(`file shrank while being sent to ${this.remoteAddress}`);
          this.destroy();
          return;
        }
        f.pos += got;
        this.bytesOut += got;
        budget -= got;
        socket.write(got === chunk.length ? chunk : chunk.subarray(0, got));
        // Written through at once: the scratch buffer is free again; otherwise it now belongs to the queue.
        scratch = socket.writableLength === 0 ? chunk : null;
        if (budget <= 0) {
          if (socket.writableLength < QUEUE_MAX) setImmediate(continuePump, this);
          return;
        }
      }
    } catch (err) {
      this.runtime.logs.error(`reading file for ${this.remoteAddress}: ${String(err)}`);
      this.destroy();
      return;
    }
    const tail = f.tail;
    closeFd(f.fd);
    this.file = null;
    if (tail !== null) this.bytesOut += tail.length;
    this.sendAndFinish(tail ?? EMPTY);
  }

  /** The next turn of a file response that used up its budget (see pumpFile). */
  continuePump(): void {
    if (this.state === 'writing' && this.socket.writableLength < QUEUE_MAX) this.pumpFile();
  }

  /** The sink a streamed body (CGI) pushes into: chunked framing for 1.1, raw for close-delimited 1.0. */
  private makeSink(source: BodySource): BodySink {
    return {
      push: (chunk: Buffer): boolean => {
        if (this.source !== source || chunk.length === 0) return true;
        this.deadline = Date.now() + this.timeouts.send;
        this.bytesOut += chunk.length;
        if (this.framing === 'chunked') {
          this.socket.cork();
          this.socket.write(chunk.length.toString(16) + '\r\n', 'latin1');
          this.socket.write(chunk);
          const ok = this.socket.write(CRLF);
          this.socket.uncork();
          return ok;
        }
        return this.socket.write(chunk);
      },
      end: (): void => {
        if (this.source !== source) return;
        this.source = null;
        if (this.framing === 'chunked') this.sendAndFinish(CHUNK_END);
        else this.sendAndFinish(EMPTY);
      },
      fail: (reason: string): void => {
        if (this.source !== source) return;
        this.source = null;
        this.runtime.logs.error(`${this.remoteAddress}: response stream failed: ${reason}`);
        this.destroy();
      },
    };
  }

  /** The response is written: log it, then keep the connection for the next request or close it. */
  private finishResponse(): void {
    if (this.state !== 'writing' || this.file !== null || this.source !== null) return;
    // A response always follows a complete or aborted body; should one ever not, the connection cannot be reused.
    if (!this.bodyDone) this.keepAlive = false;
    const now = Date.now();
    this.logAccess(now);
    this.exchange = null;
    this.status = 0;
    if (!this.keepAlive) {
      this.closeGracefully(now);
      return;
    }
    this.parser.reset();
    const buffered = this.buf !== null && this.off < this.buf.length;
    this.enter(buffered ? 'head' : 'idle', now);
    this.resumeReading();
    if (buffered) {
      // Pipelined requests: continue on a fresh stack turn so a long pipeline never recurses deeply.
      if (this.advancing) return;
      this.advance();
    }
  }

  private logAccess(now: number): void {
    const ex = this.exchange;
    const server = ex?.server ?? this.group?.fallback;
    if (server === undefined || !this.runtime.logs.wantsAccess(server)) return;
    const h = ex?.head;
    this.runtime.logs.access(
      server,
      {
        remoteAddress: this.remoteAddress,
        requestLine: h !== undefined ? `${h.method} ${h.target} HTTP/1.${h.minor}` : '',
        status: this.status,
        bytes: this.bytesOut,
        referer: h?.headers.get('referer') ?? '',
        userAgent: h?.headers.get('user-agent') ?? '',
      },
      now,
    );
  }

  // ─── Closing ──────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Closes after the response. When the client may still be sending (an unread body, pipelined bytes, a framing
   * error), our side is ended and its input discarded for a while, so it reads our answer instead of getting a
   * reset (NGINX's lingering close); otherwise the socket is closed as soon as the response is flushed.
   */
  private closeGracefully(now: number): void {
    const linger = this.linger || (this.buf !== null && this.off < this.buf.length);
    this.enter('closing', now);
    this.buf = null;
    this.off = 0;
    this.receiverPaused = false;
    if (!linger || this.peerEnded) {
      // Everything already handed to the kernel: close(2) now (it still sends the data, then FIN); otherwise
      // close once the queue drains.
      if (this.socket.writableLength === 0) this.destroy();
      else this.socket.destroySoon();
      return;
    }
    this.resumeReading();
    this.socket.end();
  }

  /** Closes at once. */
  destroy(): void {
    if (this.state === 'closed') return;
    this.socket.destroy();
    this.cleanup();
  }

  /** Server shutdown: idle connections close now, busy ones after their response. */
  shutdown(): void {
    this.keepAlive = false;
    if (this.state === 'idle' || (this.state === 'head' && (this.buf === null || this.off >= this.buf.length))) this.destroy();
  }

  private cleanup(): void {
    if (this.state === 'closed') return;
    this.enter('closed', Date.now());
    this.runtime.counters.active--;
    this.abortBody();
    if (this.file !== null) {
      closeFd(this.file.fd);
      this.file = null;
    }
    const src = this.source;
    this.source = null;
    if (src !== null) src.abort();
    const ex = this.exchange;
    if (ex !== null && this.status === 0 && ex.abandon !== null) {
      try {
        ex.abandon();
      } catch (err) {
        this.runtime.logs.error(`abandon handler failed: ${String(err)}`);
      }
    }
    this.exchange = null;
    this.buf = null;
    this.onClosed(this);
  }
}

/** The last wire bytes built for an in-memory body, reused while nothing that goes into them changes. */
interface WireCache {
  readonly second: number;
  readonly status: number;
  readonly headers: string;
  readonly keepAlive: boolean;
  readonly out: Buffer;
}
const wireCache = new WeakMap<Buffer, WireCache>();

/**
 * Head and body of a Content-Length response in one buffer, for one write. A cached small file is answered with
 * the same bytes many times a second: they are built once per Date second (and per status, extra headers and
 * keep-alive), keyed by the body buffer itself.
 */
function wireBytes(res: Response, data: Buffer, keepAlive: boolean, now: number): Buffer {
  const second = Math.floor(now / 1000);
  const c = wireCache.get(data);
  if (c !== undefined && c.second === second && c.status === res.status && c.headers === res.headers && c.keepAlive === keepAlive) {
    return c.out;
  }
  const head = serializeHead(res, 'length', keepAlive, now);
  const out = Buffer.allocUnsafe(head.length + data.length);
  out.write(head, 0, 'latin1');
  data.copy(out, head.length);
  // Only bodies shared between responses are worth remembering (small files, error pages): not a fresh buffer.
  if (data.length <= 64 * 1024) wireCache.set(data, { second, status: res.status, headers: res.headers, keepAlive, out });
  return out;
}

function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

/** Frees what an unsent body holds (an open file, a running script). */
function releaseBody(body: Body): void {
  if (body.kind === 'file') closeFd(body.fd);
  else if (body.kind === 'stream') body.source.abort();
}
