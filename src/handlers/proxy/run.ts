/**
 * One proxied request (docs/ARCHITECTURE.md "Gateway"), as a state machine:
 *
 *   connecting ──connected──▶ waiting ──response head──▶ (held ──request body sent──▶) streaming ──▶ done
 *        │                         └──101 to an Upgrade request──▶ done (the bytes go on in a ProxyTunnel)
 *        └──────────── refused, timeout, bad head, upstream gone, client gone ──────────────────────▲
 *
 * The request body streams upstream as it arrives, paced by the upstream socket (BodyReceiver returns false
 * until it drains); the response body streams to the client, paced by the client (BodySource pause/resume
 * pauses the upstream socket). A response head that comes before the whole request body was sent is held,
 * and the upstream left unread, so that an early answer never cuts the upload short (as CGI does).
 */
import type { ProxyConfig } from '../../config/proxy.js';
import { ChunkedDecoder } from '../../http/chunked.js';
import { headerLine, NO_BODY, type BodySink, type BodySource } from '../../http/response.js';
import { statusHasNoBody } from '../../http/status.js';
import { countUpstreamAttempt, countUpstreamFailure } from '../../server/metrics.js';
import type { Outbound, OutboundEvents } from '../../server/transport.js';
import { errorResponse } from '../error-page.js';
import type { BodyReceiver, Exchange } from '../exchange.js';
import { Deadline } from './deadline.js';
import { upgradeOf, upstreamRequestHead, type BodyFraming, type RequestFacts } from './request-head.js';
import {
  clientHeaderLines,
  headEnd,
  MAX_RESPONSE_HEAD,
  parseResponseHead,
  type UpstreamHead,
} from './response-head.js';
import { ProxyTunnel } from './tunnel.js';
import type { Peer, UpstreamSet } from './upstreams.js';
import { upstreamTarget } from './uri.js';

type Phase = 'connecting' | 'waiting' | 'held' | 'streaming' | 'done';

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/** A proxied request in progress. */
export class ProxyRun implements BodyReceiver, OutboundEvents, BodySource {
  private phase: Phase = 'connecting';
  private up: Outbound | null = null;
  private peer: Peer | null = null;
  /** The request head's bytes, kept to send again on a retry. */
  private requestHead: Buffer = Buffer.alloc(0);
  private framing: BodyFraming = { kind: 'none' };
  /** Body bytes were written upstream (a retry on another connection is no longer possible). */
  private bodyStarted = false;
  /** The whole request body was sent upstream (or there is none). */
  private bodyIn = false;
  /** The connection came from the keep-alive pool (a close before any answer may be retried once). */
  private reused = false;
  private retried = false;
  /** The client's Upgrade value when it asks to switch protocols (RFC 9110 §7.8), else null. */
  private upgrade: string | null = null;
  /** Servers that failed this request (proxy_next_upstream error timeout). */
  private readonly tried = new Set<Peer>();
  private headBuf: Buffer | null = null;
  private head: UpstreamHead | null = null;
  private noBody = false;
  private remaining = -1;
  private decoder: ChunkedDecoder | null = null;
  private complete = false;
  private sink: BodySink | null = null;
  private sinkPaused = false;
  /** Response body received before the client could take it. */
  private held: Buffer[] = [];
  private readonly connectDl: Deadline;
  private readonly readDl: Deadline;
  private readonly sendDl: Deadline;

  constructor(
    private readonly ex: Exchange,
    private readonly cfg: ProxyConfig,
    private readonly upstreams: UpstreamSet,
  ) {
    const timer = (at: number, fn: () => void): (() => void) => ex.timer(at, fn);
    this.connectDl = new Deadline(timer, () => this.timedOut('connecting to'));
    this.readDl = new Deadline(timer, () => this.timedOut('reading from'));
    this.sendDl = new Deadline(timer, () => this.timedOut('sending to'));
  }

  /** Starts the request: picks a server, connects, sends the head. Returns the receiver of the body. */
  begin(): BodyReceiver {
    const ex = this.ex;
    const h = ex.head;
    ex.onAbandon(() => this.abort());
    this.framing = h.chunked
      ? { kind: 'chunked' }
      : h.contentLength >= 0 && (h.contentLength > 0 || h.method !== 'GET')
        ? { kind: 'length', length: h.contentLength }
        : { kind: 'none' };
    if (this.framing.kind === 'none' || (this.framing.kind === 'length' && this.framing.length === 0))
      this.bodyIn = true;
    this.upgrade = upgradeOf(h);
    this.connect();
    return this;
  }

  /** Connects to the next server the upstream set gives (or takes a pooled connection) and sends the head. */
  private connect(): void {
    const peer = this.upstreams.pick(this.tried);
    if (peer === null) {
      this.fail(502, this.tried.size > 0 ? null : `no live upstreams in "${this.upstreams.name}"`);
      return;
    }
    this.peer = peer;
    countUpstreamAttempt();
    const ex = this.ex;
    const h = ex.head;
    const facts: RequestFacts = {
      method: h.method,
      target: h.target,
      rawPath: h.rawPath,
      query: h.query,
      path: ex.path,
      host: h.host,
      headers: h.headers,
      remoteAddress: ex.remoteAddress,
      remotePort: ex.remotePort,
      peerAddress: ex.peerAddress,
      peerPort: ex.peerPort,
      localAddress: ex.localAddress,
      localPort: ex.localPort,
      scheme: 'http',
      proxyHost: peer.hostHeader,
    };
    const target = upstreamTarget(h.rawPath, h.query, ex.path, ex.location?.path ?? '/', this.cfg.pass.uri);
    const keep = this.upstreams.keepalive > 0;
    this.requestHead = Buffer.from(
      upstreamRequestHead(target, facts, this.cfg.setHeaders, this.framing, keep, this.upgrade),
      'latin1',
    );
    // An upgrade gets a fresh connection: one that may become a tunnel is never a pooled one.
    const pooled = this.upgrade === null ? this.upstreams.takeIdle(peer, this) : null;
    this.reused = pooled !== null;
    this.phase = 'connecting';
    if (pooled !== null) {
      this.up = pooled;
      this.phase = 'waiting';
      this.readDl.arm(this.cfg.readTimeout);
    } else {
      this.up = ex.dialer.dial(peer.address, this);
      this.connectDl.arm(this.cfg.connectTimeout);
    }
    this.writeUp(this.requestHead);
    if (this.bodyIn && this.framing.kind === 'chunked') this.writeUp(LAST_CHUNK);
  }

  private log(message: string): void {
    const h = this.ex.head;
    const peer = this.peer === null ? '' : `, upstream "http://${this.peer.text}${h.target}"`;
    this.ex.logError(`proxy: ${message} (client: ${this.ex.remoteAddress}, request: "${h.method} ${h.target}"${peer})`);
  }

  private writeUp(data: Buffer): boolean {
    const up = this.up;
    if (up === null) return true;
    if (up.write(data)) return true;
    if (!this.sendDl.armed) this.sendDl.arm(this.cfg.sendTimeout);
    return false;
  }

  // ─── The request body (BodyReceiver) ──

  data(chunk: Buffer): boolean {
    if (this.phase === 'done' || this.up === null) return true;
    this.bodyStarted = true;
    // The chunk is valid only during the call: the socket queue keeps a copy.
    const out =
      this.framing.kind === 'chunked'
        ? Buffer.concat([Buffer.from(chunk.length.toString(16) + '\r\n', 'latin1'), chunk, CRLF])
        : Buffer.from(chunk);
    return this.writeUp(out);
  }

  end(): void {
    if (this.bodyIn) return;
    this.bodyIn = true;
    if (this.phase === 'done') return;
    if (this.framing.kind === 'chunked') this.writeUp(LAST_CHUNK);
    if (this.phase === 'held') this.deliver();
  }

  // ─── The upstream connection (OutboundEvents) ──

  onConnect(): void {
    this.connectDl.clear();
    if (this.phase !== 'connecting') return;
    this.phase = 'waiting';
    this.readDl.arm(this.cfg.readTimeout);
  }

  onDrain(): void {
    this.sendDl.clear();
    if (!this.bodyIn) this.ex.resumeBody();
  }

  onData(chunk: Buffer): void {
    if (this.phase === 'done' || this.complete) return;
    this.readDl.renew();
    if (this.head === null) {
      this.headBytes(chunk);
      return;
    }
    this.bodyBytes(chunk);
  }

  onEnd(): void {
    if (this.phase === 'done') return;
    if (this.head !== null && !this.complete && this.remaining < 0 && this.decoder === null) {
      this.finishBody(); // close-delimited: the end of the body
      return;
    }
    this.upstreamGone('upstream closed the connection');
  }

  onClose(error: string | null): void {
    this.connectDl.clear();
    this.sendDl.clear();
    if (this.phase === 'done' || this.up === null) return;
    this.up = null;
    if (this.phase === 'connecting') {
      const peer = this.peerOrThrow();
      this.upstreams.failed(peer);
      this.tried.add(peer);
      this.log(`connect() failed (${error ?? 'closed'}) while connecting to upstream`);
      if (this.bodyStarted) this.fail(502, null);
      else this.connect(); // proxy_next_upstream error: the next server, or 502 when none is left
      return;
    }
    if (this.head !== null && !this.complete && this.remaining < 0 && this.decoder === null) {
      this.finishBody();
      return;
    }
    this.upstreamGone(error === null ? 'upstream closed the connection' : `upstream connection failed (${error})`);
  }

  private peerOrThrow(): Peer {
    const p = this.peer;
    if (p === null) throw new Error('proxy run: no peer');
    return p;
  }

  /** The upstream went away before the response was complete. */
  private upstreamGone(why: string): void {
    if (this.complete) return;
    if (this.head === null && this.reused && !this.retried && !this.bodyStarted && idempotent(this.ex.head.method)) {
      // A pooled connection the upstream closed while idle: once more on a fresh one (RFC 9112 §9.3.1).
      this.retried = true;
      this.drop();
      this.readDl.clear();
      this.head = null;
      this.headBuf = null;
      this.connect();
      return;
    }
    const up = this.up;
    this.up = null;
    up?.destroy();
    if (this.head === null) {
      this.upstreams.failed(this.peerOrThrow());
      this.log(`${why} while reading the response header from upstream`);
      this.fail(502, null);
      return;
    }
    this.log(`${why} while sending the response to the client`);
    this.fail(502, null);
  }

  /** Forgets the current upstream connection without reporting its close. */
  private drop(): void {
    const up = this.up;
    this.up = null;
    up?.rebind(IGNORE);
    up?.destroy();
  }

  // ─── The response head ──

  private headBytes(chunk: Buffer): void {
    let buf = this.headBuf === null ? chunk : Buffer.concat([this.headBuf, chunk]);
    for (;;) {
      const end = headEnd(buf);
      if (end < 0) {
        if (buf.length > MAX_RESPONSE_HEAD) {
          this.upstreams.failed(this.peerOrThrow());
          this.badHead('upstream sent too big header');
          return;
        }
        this.headBuf = buf;
        return;
      }
      const text = buf.toString('latin1', 0, end).replace(/\r?\n\r?\n$/, '');
      const parsed = parseResponseHead(text);
      if (!parsed.ok) {
        this.badHead(`upstream sent an invalid header: ${parsed.error}`);
        return;
      }
      buf = buf.subarray(end);
      const head = parsed.value;
      if (head.status === 101) {
        this.switchProtocols(head, buf);
        return;
      }
      if (head.status >= 100 && head.status < 200) continue; // interim responses (100, 103) are not passed on
      this.headBuf = null;
      this.head = head;
      this.upstreams.succeeded(this.peerOrThrow());
      this.noBody = this.ex.head.method === 'HEAD' || statusHasNoBody(head.status);
      if (!this.noBody) {
        if (head.chunked) this.decoder = new ChunkedDecoder();
        else this.remaining = head.contentLength;
      }
      if (this.noBody || this.remaining === 0) this.finishBody();
      else if (buf.length > 0) this.bodyBytes(buf);
      if (this.phase === 'done') return;
      if (this.bodyIn) this.deliver();
      else {
        this.phase = 'held';
        this.up?.pause();
        this.readDl.clear();
      }
      return;
    }
  }

  /**
   * The upstream switched protocols (RFC 9110 §15.2.2): its 101 goes to the client, and the connection, never
   * pooled, becomes one end of a tunnel; `rest` is what came right behind the head. A 101 the request did not ask
   * for is a bad head: what follows it is no HTTP.
   */
  private switchProtocols(head: UpstreamHead, rest: Buffer): void {
    const up = this.up;
    if (up === null) return;
    if (this.upgrade === null) {
      this.badHead('upstream sent 101 Switching Protocols to a request without Upgrade');
      return;
    }
    this.headBuf = null;
    this.head = head;
    this.upstreams.succeeded(this.peerOrThrow());
    this.settle();
    this.up = null;
    const upgrade = head.fields.find(([name]) => name.toLowerCase() === 'upgrade');
    const headers =
      (upgrade === undefined ? '' : headerLine('Upgrade', upgrade[1])) +
      clientHeaderLines(head, this.cfg.hideHeaders, this.cfg.passHeaders);
    const tunnel = new ProxyTunnel(
      up,
      (at, fn) => this.ex.timer(at, fn),
      this.cfg,
      (m) => this.log(m),
    );
    const client = this.ex.upgrade({ status: 101, headers, body: NO_BODY, length: 0 }, tunnel.clientEvents);
    if (client === null) tunnel.refuse();
    else tunnel.start(client, rest);
  }

  private badHead(why: string): void {
    this.log(why);
    this.drop();
    this.fail(502, null);
  }

  /** Answers the client with the upstream's head. */
  private deliver(): void {
    const head = this.head;
    if (head === null || this.phase === 'done' || this.phase === 'streaming') return;
    this.phase = 'streaming';
    const headers = clientHeaderLines(head, this.cfg.hideHeaders, this.cfg.passHeaders);
    if (this.noBody) {
      const length = this.ex.head.method === 'HEAD' ? head.contentLength : 0;
      this.ex.respond({ status: head.status, headers, body: NO_BODY, length });
      this.settle();
      return;
    }
    this.ex.respond({
      status: head.status,
      headers,
      body: { kind: 'stream', source: this },
      length: head.contentLength,
    });
  }

  // ─── The response body ──

  private bodyBytes(chunk: Buffer): void {
    const d = this.decoder;
    if (d !== null) {
      d.decode(chunk, 0, chunk.length, (piece) => {
        this.emit(piece);
      });
      if (d.error !== null) {
        this.log(`upstream sent an invalid chunked body: ${d.error.reason}`);
        this.upstreamGone('bad chunked framing');
        return;
      }
      if (d.done) this.finishBody();
      return;
    }
    if (this.remaining >= 0) {
      const piece = chunk.length > this.remaining ? chunk.subarray(0, this.remaining) : chunk;
      this.remaining -= piece.length;
      this.emit(piece);
      if (this.remaining === 0) this.finishBody();
      return;
    }
    this.emit(chunk);
  }

  private emit(piece: Buffer): void {
    if (piece.length === 0) return;
    const sink = this.sink;
    if (sink === null || this.sinkPaused || this.held.length > 0) {
      this.held.push(piece);
      this.up?.pause();
      return;
    }
    if (!sink.push(piece)) this.pause();
  }

  /** The response body is all in: the upstream connection goes back to the pool, or is closed. */
  private finishBody(): void {
    if (this.complete) return;
    this.complete = true;
    this.readDl.clear();
    const up = this.up;
    this.up = null;
    const head = this.head;
    if (up !== null) {
      // A close-delimited body ended with the upstream's FIN: that connection is over (RFC 9112 §6.3).
      const delimited = head !== null && (this.noBody || head.chunked || head.contentLength >= 0);
      const reusable =
        head !== null && !head.close && delimited && this.bodyIn && this.upstreams.keepalive > 0 && this.peer !== null;
      if (reusable && this.peer !== null) {
        up.resume();
        this.upstreams.putIdle(this.peer, up);
      } else {
        up.rebind(IGNORE);
        up.destroy();
      }
    }
    if (this.sink !== null && this.held.length === 0) this.endSink();
  }

  private endSink(): void {
    const sink = this.sink;
    if (sink === null || this.phase === 'done') return;
    this.settle();
    sink.end();
  }

  start(sink: BodySink): void {
    if (this.phase === 'done') {
      sink.fail('upstream failed'); // it failed between the answer and the first byte of its body
      return;
    }
    this.sink = sink;
    this.flush();
  }

  pause(): void {
    this.sinkPaused = true;
    this.up?.pause();
    this.readDl.clear(); // a client that reads slowly is not the upstream's fault (send_timeout is the client's)
  }

  resume(): void {
    if (this.phase === 'done') return;
    this.sinkPaused = false;
    this.flush();
  }

  /** Replays held body bytes while the client takes them; then completes, or lets the upstream flow again. */
  private flush(): void {
    const sink = this.sink;
    if (sink === null || this.phase === 'done') return;
    while (this.held.length > 0) {
      const piece = this.held.shift();
      if (piece === undefined) break;
      if (!sink.push(piece)) {
        this.sinkPaused = true;
        return;
      }
    }
    if (this.complete) {
      this.endSink();
      return;
    }
    if (!this.sinkPaused && this.up !== null) {
      this.up.resume();
      this.readDl.arm(this.cfg.readTimeout);
    }
  }

  // ─── Ending ──

  /** The client went away (or the response cannot be written): the upstream connection is closed. */
  abort(): void {
    if (this.phase === 'done') return;
    this.settle();
    this.drop();
  }

  private timedOut(what: string): void {
    if (this.phase === 'done') return;
    const peer = this.peerOrThrow();
    if (this.head === null) this.upstreams.failed(peer);
    this.log(`upstream timed out while ${what} upstream`);
    this.drop();
    if (this.phase === 'connecting' && !this.bodyStarted) {
      this.tried.add(peer);
      this.connect(); // proxy_next_upstream timeout
      return;
    }
    this.fail(504, null);
  }

  /** An error page when nothing was sent yet, else a cut response. */
  private fail(status: number, message: string | null): void {
    if (this.phase === 'done') return;
    if (message !== null) this.log(message);
    countUpstreamFailure();
    const sink = this.sink;
    this.settle();
    this.drop();
    if (sink !== null) sink.fail('upstream failed');
    else this.ex.respond(errorResponse(this.ex.server, status));
  }

  private settle(): void {
    this.phase = 'done';
    this.held = [];
    this.connectDl.clear();
    this.readDl.clear();
    this.sendDl.clear();
  }
}

/** Methods a request may be sent again for (RFC 9110 §9.2.2). */
export function idempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'DELETE' || method === 'PUT';
}

/** The events of a connection nobody owns any more. */
export const IGNORE: OutboundEvents = {
  onConnect: () => undefined,
  onData: () => undefined,
  onEnd: () => undefined,
  onDrain: () => undefined,
  onClose: () => undefined,
};
