/**
 * One client connection as an explicit state machine (docs/ARCHITECTURE.md "The connection"), in the manner of
 * lighttpd's connections.c: every event goes through step(), every state change through enter(), which refuses
 * a move the table in connection-states.ts does not list. The request itself is RequestCycle's (routing, body,
 * answer), writing it ResponseWriter's; handlers see an Exchange and never the transport.
 */
import type { Timeouts } from '../config/types.js';
import { DEFAULTS } from '../config/types.js';
import { HeadParser } from '../http/request-parser.js';
import type { RequestHead } from '../http/request.js';
import { serializeSwitchHead, type Response } from '../http/response.js';
import type { Tunnel, TunnelEvents } from '../handlers/exchange.js';
import type { VHostGroup } from '../router/vhost.js';
import { countMove, legal, LINGER_MS, stateTimeout, type ConnEvent, type ConnState } from './connection-states.js';
import { admit } from './admission.js';
import type { ListenerInfo } from './listeners.js';
import { InputBuffer } from './input.js';
import { countBytesIn, methodIndex } from './metrics.js';
import { RequestCycle, type CycleOwner } from './request-cycle.js';
import { chooseFraming, requestFacts, ResponseWriter, type WriterOwner } from './response-writer.js';
import type { Runtime } from './runtime.js';
import type { Expiring } from './timeouts.js';
import type { Transport, TransportEvents } from './transport.js';
import { ClientTunnel, type TunnelOwner } from './tunnel.js';

const END: ConnEvent = { kind: 'end' };
const DRAIN: ConnEvent = { kind: 'drain' };
const CLOSED: ConnEvent = { kind: 'closed' };

/** Linux's initial window (10 segments of 1,448 bytes): a body no larger is on the wire once it is written. */
const FIRST_FLIGHT = 14 * 1024;
/** Bytes we buffer past the current request (pipelined requests) before we stop reading. */
const MAX_BUFFERED = 64 * 1024;

/** A client connection: the transport's events, the input, the states, and how it ends. */
export class Connection implements TransportEvents, WriterOwner, CycleOwner, TunnelOwner, Expiring {
  state: ConnState = 'head';
  /** When the current state times out (ms since epoch); Infinity for none. */
  deadline: number;
  private readonly group: VHostGroup | null;
  private readonly parser = new HeadParser();
  private readonly writer: ResponseWriter;
  private req: RequestCycle = new RequestCycle(this);
  private timeouts: Timeouts;
  private readonly input = new InputBuffer();
  private advancing = false;
  /** Reading is paused by us (a receiver that waits, or too many pipelined bytes). */
  private paused = false;
  private peerEnded = false;
  /** Closing while the client still reads a large response: its bytes are dropped but do not cut that short. */
  private drainingOut = false;
  /** The tunnel, in state 'tunnel'. */
  private tun: ClientTunnel | null = null;

  constructor(
    readonly transport: Transport,
    readonly runtime: Runtime,
    private readonly listener: ListenerInfo,
    private readonly onClosed: (c: Connection) => void,
  ) {
    this.group =
      listener.group !== undefined ? listener.group : runtime.vhosts.group(transport.localAddress, listener.port);
    this.timeouts = this.group?.fallback.timeouts ?? DEFAULTS.timeouts;
    this.deadline = Date.now() + this.timeouts.header;
    this.writer = new ResponseWriter(this);
    runtime.counters.reading++;
    transport.bind(this);
  }

  get remoteAddress(): string {
    return this.transport.remoteAddress;
  }
  get remotePort(): number {
    return this.transport.remotePort;
  }
  get localAddress(): string {
    return this.transport.localAddress;
  }
  get localPort(): number {
    return this.listener.port;
  }

  // ─── Events: the transport's, the sweep's, all through step() ───────────────────────────────────────────

  onData(chunk: Buffer): void {
    this.step({ kind: 'data', chunk });
  }
  onEnd(): void {
    this.step(END);
  }
  onDrain(): void {
    this.step(DRAIN);
  }
  onClose(): void {
    this.step(CLOSED);
  }
  expire(now: number): void {
    this.step({ kind: 'expire', now });
  }

  /** The one dispatch of what happens to the connection, by state. */
  step(e: ConnEvent): void {
    const s = this.state;
    if (s === 'closed') return;
    if (s === 'tunnel' && e.kind !== 'closed' && e.kind !== 'expire') {
      this.tunnelStep(e);
      return;
    }
    switch (e.kind) {
      case 'data':
        if (s === 'closing') {
          // Lingering close: drop input, and end soon, unless the client is still owed a response it reads.
          if (!this.drainingOut) this.deadline = Math.min(this.deadline, Date.now() + LINGER_MS);
          return;
        }
        countBytesIn(e.chunk.length);
        this.input.append(e.chunk);
        if (s === 'idle') this.enter('head', Date.now());
        else if (s === 'body') this.deadline = Date.now() + this.timeouts.body;
        this.advance();
        return;
      case 'end':
        this.peerEnded = true;
        if (s === 'head' && this.input.has) this.fail(400, 'connection closed inside a request head', Date.now());
        // A body the client gave up on, or a response nobody waits for any more (NGINX aborts upstreams too).
        else if (s !== 'writing' || this.writer.streaming) this.destroy();
        return;
      case 'drain':
        if (s === 'writing') this.writer.drained();
        return;
      case 'closed':
        this.cleanup();
        return;
      case 'expire':
        this.timedOut(e.now);
        return;
    }
  }

  private timedOut(now: number): void {
    const s = this.state;
    // Half a head → 408; a connection that never sent a byte is closed silently, as NGINX does.
    if (s === 'head' && this.input.has) this.fail(408, 'client header timeout', now);
    else if (s === 'body' && this.paused && this.req.body?.waiting === true)
      // Paused as the script takes no body: not the client's delay (cgi_timeout bounds it); its clock restarts.
      this.deadline = now + this.timeouts.body;
    else if (s === 'body') this.fail(408, 'client body timeout', now);
    else if (s === 'writing') this.broken('send timeout');
    else if (s === 'tunnel')
      this.broken('send timeout in a tunnel'); // its deadline is set only while blocked
    else if (s !== 'handling') this.destroy(); // a silent head, idle, lingering: handlers bound their own time
  }

  // ─── States: the one place that changes `state` ─────────────────────────────────────────────────────────

  private enter(next: ConnState, now: number): void {
    const prev = this.state;
    if (!legal(prev, next)) {
      this.runtime.logs.error(`bug: connection from ${this.remoteAddress} moved ${prev} → ${next}; closed`);
      if (next !== 'closed') this.destroy();
      return;
    }
    countMove(this.runtime.counters, prev, next);
    this.state = next;
    this.deadline = now + stateTimeout(next, this.timeouts);
  }

  // ─── Reading requests ───────────────────────────────────────────────────────────────────────────────────

  /** Consumes buffered input as far as the current state allows. */
  advance(): void {
    if (this.advancing) return;
    this.advancing = true;
    try {
      const input = this.input;
      while (input.buf !== null && input.has) {
        const buf = input.buf;
        if (this.state === 'head') {
          const r = this.parser.parse(buf, input.off, buf.length);
          if (r.kind === 'incomplete') break;
          if (r.kind === 'error') {
            this.fail(r.error.status, r.error.reason, Date.now());
            break;
          }
          const headBytes = r.end - input.off;
          input.off = r.end;
          this.startRequest(r.head, headBytes);
        } else if (this.state === 'body') {
          const r = this.req.readBody(buf, input.off);
          input.off = r.end;
          if (!r.complete) break;
        } else {
          // handling / writing: pipelined bytes wait; stop reading if too many pile up.
          if (input.size > MAX_BUFFERED) this.pauseReading();
          break;
        }
      }
      if (!input.has) input.clear();
    } finally {
      this.advancing = false;
    }
  }

  private startRequest(head: RequestHead, headBytes: number): void {
    const a = admit(this.transport, this.group, head);
    if (!a.ok) {
      this.req.method = methodIndex(head.method); // refused, but its head was read: its method is known
      this.fail(a.status, a.reason, Date.now(), a.detail); // counts the request, as for any head without an exchange
      return;
    }
    this.runtime.counters.requests++;
    this.req = new RequestCycle(this);
    this.timeouts = a.server.timeouts;
    this.req.start(head, a.server, headBytes);
  }

  /** CycleOwner: true while `cycle` is the current request. */
  isCurrent(cycle: RequestCycle): boolean {
    return this.req === cycle;
  }

  /** CycleOwner. */
  enterState(next: ConnState): void {
    this.enter(next, Date.now());
  }

  /** CycleOwner. */
  pauseReading(): void {
    if (this.paused) return;
    this.paused = true;
    this.transport.pause();
  }

  /** CycleOwner. */
  resumeReading(): void {
    if (!this.paused || this.req.body?.waiting === true) return;
    this.paused = false;
    if (this.state === 'body') this.deadline = Date.now() + this.timeouts.body;
    this.transport.resume();
  }

  // ─── Answering ──────────────────────────────────────────────────────────────────────────────────────────

  /** CycleOwner: answers with an error page and closes (malformed requests, timeouts, limits). */
  fail(status: number, reason: string, now = Date.now(), detail?: string): void {
    if (status !== 408 && status !== 413) this.runtime.logs.info(`${this.remoteAddress}: ${status} ${reason}`);
    const req = this.req;
    if (this.state === 'writing' || req.status !== 0) {
      this.destroy(); // a response is already on the wire: the only honest thing left is to close
      return;
    }
    if (req.exchange === null) this.runtime.counters.requests++;
    this.answer(req.failure(status, this.group?.fallback ?? null, detail), req.exchange?.head ?? null, now);
  }

  /** CycleOwner: frames and writes the answer to the current request. */
  answer(res: Response, head: RequestHead | null, now = Date.now()): void {
    const req = this.req;
    const keep = req.keepAlive && res.close !== true && !this.peerEnded && !this.runtime.shuttingDown;
    const choice = chooseFraming(res.status, res.length, requestFacts(head), keep);
    req.status = res.status;
    req.keepAlive = choice.keepAlive;
    this.enter('writing', now);
    this.writer.start(res, choice, now, req.rateLimit);
  }

  /** WriterOwner: the client took data (or limit_rate holds the response until `from`). */
  progressed(from = Date.now()): void {
    this.deadline = from + this.timeouts.send;
  }

  /** WriterOwner: the response cannot be completed. */
  broken(reason: string): void {
    this.runtime.logs.error(`${this.remoteAddress}: ${reason}`);
    this.destroy();
  }

  /** WriterOwner: the response is written: log it, then keep the connection for the next request or close it. */
  written(): void {
    if (this.state !== 'writing') return;
    const req = this.req;
    // A response always follows a complete or aborted body; should one ever not, the connection cannot be reused.
    if (req.body !== null && !req.body.over) req.keepAlive = false;
    const now = Date.now();
    req.report(this.writer.bytesOut, this.writer.headBytesOut, this.group?.fallback, now);
    // After the client's FIN no request can follow but those already buffered.
    const keep = req.keepAlive && !(this.peerEnded && !this.input.has);
    const linger = req.linger;
    req.finish();
    this.req = new RequestCycle(this);
    if (!keep) {
      this.closeGracefully(now, linger);
      return;
    }
    this.parser.reset();
    const buffered = this.input.has;
    this.enter(buffered ? 'head' : 'idle', now);
    this.resumeReading();
    // Pipelined requests; inside advance() already, its loop carries on.
    if (buffered && !this.advancing) this.advance();
  }

  // ─── Tunnels (RFC 9110 §7.8) ────────────────────────────────────────────────────────────────────────────

  /**
   * CycleOwner: writes the 101 head and leaves HTTP. Bytes behind the request head are the tunnel's (`early`);
   * the header and keep-alive timeouts no longer apply (the proxy's proxy_read_timeout bounds an idle tunnel).
   */
  tunnel(res: Response, events: TunnelEvents): Tunnel | null {
    if (this.state !== 'handling') return null;
    const req = this.req;
    req.status = res.status;
    req.keepAlive = false;
    const now = Date.now();
    const head = Buffer.from(serializeSwitchHead(res, now), 'latin1');
    this.enter('tunnel', now);
    const input = this.input;
    const early = input.buf !== null && input.has ? input.buf.subarray(input.off) : Buffer.alloc(0);
    input.clear();
    const t = (this.tun = new ClientTunnel(this, events, early, head.length));
    this.transport.setNoDelay(true); // messages are small and each one waits for its answer
    this.transport.write(head);
    this.readAgain();
    return t;
  }

  private tunnelStep(e: ConnEvent): void {
    const t = this.tun;
    if (t === null) return;
    if (e.kind === 'data') {
      countBytesIn(e.chunk.length);
      t.events.onData(e.chunk);
    } else if (e.kind === 'end') {
      this.peerEnded = true;
      t.events.onEnd();
    } else if (e.kind === 'drain') {
      this.deadline = Infinity;
      t.events.onDrain();
    }
  }

  /** TunnelOwner: a write to the client waits: send_timeout runs until it drains. */
  blocked(): void {
    if (this.state === 'tunnel' && this.deadline === Infinity) this.deadline = Date.now() + this.timeouts.send;
  }

  /** TunnelOwner: reads again, whatever paused reading. */
  readAgain(): void {
    if (!this.paused || this.state === 'closed') return;
    this.paused = false;
    this.transport.resume();
  }

  // ─── Closing ────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Closes after the response. While the client may still send (an unread body, pipelined bytes, a framing error)
   * our side is ended and its input dropped a while, so it reads our answer, not a reset (NGINX's lingering close);
   * so too after a response over FIRST_FLIGHT, until the client closes: close(2) would orphan the socket with the
   * response unsent, and Linux resets orphans when TCP memory runs out. Else it closes once the answer is flushed.
   */
  private closeGracefully(now: number, lingerAsked: boolean): void {
    const linger = lingerAsked || this.input.has;
    const unsent = !linger && !this.peerEnded && this.writer.bytesOut > FIRST_FLIGHT;
    this.enter('closing', now);
    this.input.clear();
    if (unsent) {
      // The client is still reading our response: it has send_timeout for that, as while we were writing it
      // (a stray byte from it must not shorten that to the linger time).
      this.drainingOut = true;
      this.deadline = now + Math.max(LINGER_MS, this.timeouts.send);
    } else if (!linger || this.peerEnded) {
      this.transport.closeAfterWrite();
      return;
    }
    // Read on (and drop what comes) while the client takes our answer; our FIN goes after it.
    this.paused = false;
    this.transport.resume();
    this.transport.end();
  }

  /** Closes at once. */
  destroy(): void {
    if (this.state === 'closed') return;
    this.transport.destroy();
    this.cleanup();
  }

  /** Server shutdown: idle connections close now, busy ones after their response. */
  shutdown(): void {
    this.req.keepAlive = false;
    if (this.quiet) this.destroy();
  }

  /** Idle, or a head not begun: nothing of the client's is in progress. */
  get quiet(): boolean {
    return this.state === 'idle' || (this.state === 'head' && !this.input.has);
  }

  private cleanup(): void {
    if (this.state === 'closed') return;
    const tun = this.state === 'tunnel' ? this.tun : null;
    const now = Date.now();
    this.enter('closed', now);
    this.runtime.counters.active--;
    if (tun !== null) {
      // An upgraded request is logged once, when its tunnel ends (as nginx does), with the bytes it carried.
      this.tun = null;
      this.req.report(tun.bytesOut, tun.headBytes, this.group?.fallback, now);
      try {
        tun.events.onClose();
      } catch (err) {
        this.runtime.logs.error(`tunnel close handler failed: ${String(err)}`);
      }
    }
    this.req.abandon();
    this.writer.abort();
    this.req = new RequestCycle(this);
    this.input.clear();
    this.onClosed(this);
  }
}
