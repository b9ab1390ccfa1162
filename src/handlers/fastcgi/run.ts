/**
 * One FastCGI request (docs/ARCHITECTURE.md "Gateway"), as a state machine:
 *
 *   (spooling ──body in──▶) connecting ──connected──▶ waiting ──header block──▶ streaming ──END_REQUEST──▶ ended
 *        └───────────── refused, timeout, bad record, upstream gone, client gone ─────────────────▶ failed
 *
 * A chunked request body is spooled first (CONTENT_LENGTH must be true, as for CGI); a sized one streams as
 * FCGI_STDIN while it arrives, paced by the upstream socket. FCGI_STDOUT is a CGI response (RFC 3875 §6), read by
 * the CGI gateway's header scanner and held or streamed by its CgiOutput; FCGI_STDERR goes to the error log. The
 * response is sent only once the whole request body was sent, as CGI does.
 */
import * as fs from 'node:fs';
import { countUpstreamAttempt, countUpstreamFailure } from '../../server/metrics.js';
import type { Outbound, OutboundEvents } from '../../server/transport.js';
import { CgiHeaderScanner, type CgiHead } from '../cgi/headers.js';
import { CgiOutput, type OutputOwner } from '../cgi/output.js';
import { appendAll, closeQuietly, openBodySpool, type BodySpool } from '../cgi/spool.js';
import { applySessionHeaders } from '../cgi/session.js';
import { StderrLog } from '../cgi/stderr-log.js';
import { streamedResponse } from '../compression.js';
import { errorResponse } from '../error-page.js';
import type { BodyReceiver, Exchange } from '../exchange.js';
import { Deadline } from '../proxy/deadline.js';
import { idempotent, IGNORE } from '../proxy/run.js';
import type { Peer, UpstreamSet } from '../proxy/upstreams.js';
import { fastcgiParams, type FastcgiTarget } from './params.js';
import {
  encodePairs,
  END_STATUS,
  FCGI,
  parseEndRequest,
  RecordParser,
  requestHead,
  streamRecords,
  type FcgiRecord,
} from './protocol.js';

type Phase = 'spooling' | 'connecting' | 'waiting' | 'streaming' | 'ended' | 'failed';
const NEXT: Readonly<Record<Phase, readonly Phase[]>> = {
  spooling: ['connecting', 'failed'],
  // A connect error or timeout goes on to the next server; a pooled connection closed under us is retried once.
  connecting: ['connecting', 'waiting', 'failed'],
  waiting: ['connecting', 'streaming', 'ended', 'failed'],
  streaming: ['ended', 'failed'],
  // The response may still fail to reach the client after the upstream finished (a short Content-Length).
  ended: ['failed'],
  failed: [],
};

/** The one request on a connection: php-fpm does not multiplex (FCGI_MPXS_CONNS 0). */
const REQUEST_ID = 1;
/** Largest read from the body spool at once. */
const SPOOL_READ = 64 * 1024;
const NOTHING = Buffer.alloc(0);

/** A FastCGI request in progress. */
export class FastcgiRun implements BodyReceiver, OutboundEvents, OutputOwner {
  private phase: Phase = 'connecting';
  private up: Outbound | null = null;
  private peer: Peer | null = null;
  private readonly tried = new Set<Peer>();
  /** The connection came from the pool: a close before any answer may be retried once. */
  private reused = false;
  private retried = false;
  /** Body bytes went upstream: no other server may be tried. */
  private bodyStarted = false;
  /** The empty FCGI_STDIN record is written: the request is all sent, and fastcgi_read_timeout runs from now. */
  private sent = false;
  /** The response head went to the client (respond() or a local redirect). */
  private delivered = false;
  /** The whole request body was received (or there is none). */
  private bodyIn = false;
  /** The body's length for CONTENT_LENGTH; null without a body. */
  private contentLength: number | null = null;
  private spool: BodySpool | null = null;
  private spoolPos = 0;
  private parser = new RecordParser();
  private scanner = new CgiHeaderScanner();
  private head: CgiHead | null = null;
  /** The session store is taking the head's session change (deliver runs once). */
  private committing = false;
  private output: CgiOutput | null = null;
  private stdoutDone = false;
  private readonly stderrLog = new StderrLog((m) => this.log(m));
  private readonly connectDl: Deadline;
  private readonly readDl: Deadline;
  private readonly sendDl: Deadline;

  constructor(
    private readonly ex: Exchange,
    private readonly target: FastcgiTarget,
    private readonly upstreams: UpstreamSet,
  ) {
    const timer = (at: number, fn: () => void): (() => void) => ex.timer(at, fn);
    this.connectDl = new Deadline(timer, () => this.timedOut('connecting to'));
    this.readDl = new Deadline(timer, () => this.timedOut('reading response header from'));
    this.sendDl = new Deadline(timer, () => this.timedOut('sending request to'));
  }

  /** Starts the request; returns the receiver of the body, or null when there is none. */
  begin(): BodyReceiver | null {
    const ex = this.ex;
    const h = ex.head;
    ex.onAbandon(() => this.abort());
    if (h.chunked) {
      try {
        this.spool = openBodySpool();
      } catch (e) {
        this.log(`cannot spool the request body: ${String(e)}`);
        ex.respond(errorResponse(ex.server, 500));
        this.phase = 'failed';
        return null;
      }
      this.phase = 'spooling';
      return this;
    }
    if (h.contentLength > 0) {
      this.contentLength = h.contentLength;
      this.connect();
      return this.phase === 'failed' ? null : this;
    }
    this.bodyIn = true;
    this.contentLength = h.contentLength >= 0 ? 0 : null;
    this.connect();
    return null;
  }

  /** The upstream side is over (answered in full, or failed). */
  private finished(): boolean {
    return this.phase === 'failed' || this.phase === 'ended';
  }

  private move(next: Phase): void {
    if (!NEXT[this.phase].includes(next)) throw new Error(`fastcgi run: illegal move ${this.phase} → ${next}`);
    this.phase = next;
  }

  log(message: string): void {
    const h = this.ex.head;
    const peer = this.peer === null ? '' : `, upstream "fastcgi://${this.peer.text}"`;
    this.ex.logError(
      `fastcgi: ${message} (client: ${this.ex.remoteAddress}, request: "${h.method} ${h.target}"${peer})`,
    );
  }

  /** Picks the next server (or a pooled connection to it) and sends BEGIN_REQUEST and the params. */
  private connect(): void {
    const keep = this.target.cfg.keepConn;
    const params = encodePairs(fastcgiParams(this.ex, this.target, this.contentLength));
    // The body is all there is when it is empty or spooled: its end record goes with the params.
    const endStdin = this.bodyIn && this.spool === null;
    const head = requestHead(REQUEST_ID, keep, params, endStdin);
    if (!head.ok) {
      // Not the upstream's fault: nothing was sent, and the server stays healthy.
      this.fail(500, `fastcgi request record is too big: ${head.error}`);
      return;
    }
    const peer = this.upstreams.pick(this.tried);
    if (peer === null) {
      this.fail(502, this.tried.size > 0 ? null : `no live upstreams in "${this.upstreams.name}"`);
      return;
    }
    this.peer = peer;
    countUpstreamAttempt();
    this.sent = endStdin;
    // Any request takes an idle kept connection first, with or without FCGI_KEEP_CONN: each one holds a child.
    const pooled = this.upstreams.takeIdle(peer, this);
    this.reused = pooled !== null;
    if (this.phase !== 'connecting') this.move('connecting');
    if (pooled !== null) {
      this.up = pooled;
      this.move('waiting');
      this.armRead();
    } else {
      this.up = this.ex.dialer.dial(peer.address, this);
      this.connectDl.arm(this.target.cfg.connectTimeout);
    }
    this.writeUp(head.value);
    if (this.spool !== null) this.pumpSpool();
  }

  /** fastcgi_read_timeout counts from the end of the request, as nginx's does: php-fpm says nothing while it reads
   *  a body, whose upload fastcgi_send_timeout bounds. */
  private armRead(): void {
    if (this.sent && this.phase === 'waiting' && !this.readDl.armed) this.readDl.arm(this.target.cfg.readTimeout);
  }

  /** Writes the empty FCGI_STDIN record: the request is all sent. */
  private endStdin(): void {
    this.writeUp(Buffer.concat(streamRecords(FCGI.STDIN, REQUEST_ID, NOTHING)));
    this.sent = true;
    this.armRead();
  }

  private writeUp(data: Buffer): boolean {
    const up = this.up;
    if (up === null) return true;
    if (up.write(data)) return true;
    if (!this.sendDl.armed) this.sendDl.arm(this.target.cfg.sendTimeout);
    return false;
  }

  // ─── The request body (BodyReceiver) ──

  data(chunk: Buffer): boolean {
    const spool = this.spool;
    if (this.phase === 'spooling' && spool !== null) {
      try {
        appendAll(spool.wfd, chunk);
        spool.size += chunk.length;
      } catch (e) {
        this.log(`cannot spool the request body: ${String(e)}`);
        this.fail(500, null);
      }
      return true;
    }
    if (this.up === null || this.phase === 'failed') return true;
    this.bodyStarted = true;
    // concat copies: the chunk is valid only during the call.
    return this.writeUp(Buffer.concat(streamRecords(FCGI.STDIN, REQUEST_ID, chunk)));
  }

  end(): void {
    if (this.bodyIn) return;
    this.bodyIn = true;
    if (this.phase === 'spooling') {
      this.contentLength = this.spool?.size ?? 0;
      this.connect();
      return;
    }
    if (this.phase === 'failed') return;
    if (this.up !== null) this.endStdin();
    if (this.head !== null) this.deliver();
  }

  /** Sends the spooled body as FCGI_STDIN while the upstream takes it, then its end record. */
  private pumpSpool(): void {
    const spool = this.spool;
    if (spool === null || this.up === null) return;
    const buf = Buffer.allocUnsafe(SPOOL_READ);
    while (this.spoolPos < spool.size) {
      let n: number;
      try {
        n = fs.readSync(spool.rfd, buf, 0, Math.min(SPOOL_READ, spool.size - this.spoolPos), this.spoolPos);
      } catch (e) {
        this.log(`cannot read the spooled request body: ${String(e)}`);
        this.fail(500, null);
        return;
      }
      if (n <= 0) break;
      this.spoolPos += n;
      this.bodyStarted = true;
      if (!this.writeUp(Buffer.concat(streamRecords(FCGI.STDIN, REQUEST_ID, buf.subarray(0, n))))) return;
    }
    this.closeSpool();
    this.endStdin();
    if (this.head !== null) this.deliver();
  }

  private closeSpool(): void {
    const s = this.spool;
    this.spool = null;
    if (s === null) return;
    closeQuietly(s.wfd);
    closeQuietly(s.rfd);
  }

  // ─── The upstream connection (OutboundEvents) ──

  onConnect(): void {
    this.connectDl.clear();
    if (this.phase !== 'connecting') return;
    this.move('waiting');
    this.armRead();
  }

  onDrain(): void {
    this.sendDl.clear();
    if (this.spool !== null) this.pumpSpool();
    else if (!this.bodyIn) this.ex.resumeBody();
  }

  onData(chunk: Buffer): void {
    if (this.phase !== 'waiting' && this.phase !== 'streaming') return;
    this.readDl.renew();
    const broken = this.parser.push(chunk, (r) => this.record(r));
    if (broken !== null && !this.finished()) {
      this.upstreamFailed();
      this.fail(502, `upstream sent ${broken}`);
    }
  }

  onEnd(): void {
    if (this.phase === 'ended' || this.phase === 'failed') return;
    this.upstreamGone('upstream closed the connection');
  }

  onClose(error: string | null): void {
    this.connectDl.clear();
    this.sendDl.clear();
    if (this.phase === 'ended' || this.phase === 'failed' || this.up === null) return;
    this.up = null;
    if (this.phase === 'connecting') {
      const peer = this.upstreamFailed();
      this.tried.add(peer);
      this.log(`connect() failed (${error ?? 'closed'}) while connecting to upstream`);
      if (this.bodyStarted) this.fail(502, null);
      else this.connect(); // the next server, or 502 when none is left
      return;
    }
    this.upstreamGone(error === null ? 'upstream closed the connection' : `upstream connection failed (${error})`);
  }

  /** Marks the current server failed (passive health) and returns it. */
  private upstreamFailed(): Peer {
    const p = this.peer;
    if (p === null) throw new Error('fastcgi run: no peer');
    this.upstreams.failed(p);
    return p;
  }

  /** The upstream went away before FCGI_END_REQUEST. */
  private upstreamGone(why: string): void {
    if (
      this.head === null &&
      this.reused &&
      !this.retried &&
      !this.bodyStarted &&
      !this.stdoutDone &&
      idempotent(this.ex.head.method)
    ) {
      // A pooled connection php-fpm closed while idle: once more on a fresh one (RFC 9112 §9.3.1's reasoning).
      this.retried = true;
      this.drop();
      this.readDl.clear();
      this.parser = new RecordParser();
      this.scanner = new CgiHeaderScanner();
      this.connect();
      return;
    }
    if (this.head === null) this.upstreamFailed();
    const when = this.head === null ? 'while reading response header from upstream' : 'before the end of the response';
    this.fail(502, `${why} ${when}`);
  }

  /** Forgets the current connection without hearing of its close. */
  private drop(): void {
    const up = this.up;
    this.up = null;
    up?.rebind(IGNORE);
    up?.destroy();
  }

  // ─── Records ──

  private record(r: FcgiRecord): void {
    if (r.id !== REQUEST_ID || this.phase === 'failed' || this.phase === 'ended') return;
    switch (r.type) {
      case FCGI.STDOUT:
        if (r.content.length === 0) this.stdoutEnded();
        else this.stdout(r.content);
        return;
      case FCGI.STDERR:
        if (r.content.length === 0) this.stderrLog.flush();
        else this.stderrLog.push(r.content);
        return;
      case FCGI.END_REQUEST:
        this.endRequest(r.content);
        return;
      default:
        return; // nothing else is sent to a Responder's web server (§6.2)
    }
  }

  private stdout(chunk: Buffer): void {
    if (this.stdoutDone) return;
    if (this.output !== null) {
      this.output.push(chunk);
      return;
    }
    const r = this.scanner.push(chunk);
    if (r.kind === 'more') return;
    if (r.kind === 'error') {
      this.upstreamFailed();
      this.fail(502, `upstream sent a bad header block: ${r.error.message}`);
      return;
    }
    this.head = r.head;
    if (this.peer !== null) this.upstreams.succeeded(this.peer);
    this.output = new CgiOutput(this, r.head.contentLength);
    if (r.rest.length > 0) this.output.push(r.rest);
    if (this.bodyIn && this.spool === null) this.deliver();
  }

  /** The end of FCGI_STDOUT (its empty record, or END_REQUEST without one). */
  private stdoutEnded(): void {
    if (this.stdoutDone) return;
    this.stdoutDone = true;
    if (this.output !== null) {
      this.output.ended();
      return;
    }
    this.upstreamFailed();
    this.fail(502, 'upstream ended its output before a complete header block');
  }

  /** FCGI_END_REQUEST: the request is over upstream; the connection is pooled or closed. */
  private endRequest(content: Buffer): void {
    const end = parseEndRequest(content);
    if (end !== null && end.protocolStatus !== 0) {
      this.upstreamFailed();
      this.fail(502, `upstream refused the request: ${END_STATUS[end.protocolStatus] ?? String(end.protocolStatus)}`);
      return;
    }
    this.stderrLog.flush();
    this.stdoutEnded();
    if (this.phase === 'failed') return;
    this.move('ended');
    this.release();
    // php-fpm may end a request before it read the whole body (a script that answers without reading it, or
    // fastcgi_finish_request()): the rest of the body is dropped, and the answer goes out once it is in.
    if (this.spool !== null) this.closeSpool();
    if (this.bodyIn) this.deliver();
    else this.ex.resumeBody(); // reading may wait for a drain that will not come now: the rest is read and dropped
  }

  /** After END_REQUEST: back to the pool when FCGI_KEEP_CONN was asked and the whole body went, else closed. */
  private release(): void {
    this.readDl.clear();
    this.sendDl.clear();
    const up = this.up;
    const peer = this.peer;
    this.up = null;
    if (up === null) return;
    if (
      this.target.cfg.keepConn &&
      this.upstreams.keepalive > 0 &&
      this.bodyIn &&
      this.spool === null &&
      peer !== null
    ) {
      up.resume();
      this.upstreams.putIdle(peer, up);
      return;
    }
    up.rebind(IGNORE);
    up.destroy();
  }

  /** Header block in and the whole body sent: session headers applied, then the answer (or a local redirect). */
  private deliver(): void {
    const h = this.head;
    const output = this.output;
    if (h === null || output === null || this.delivered || this.committing) return;
    if (this.phase !== 'waiting' && this.phase !== 'ended') return;
    this.committing = true;
    applySessionHeaders(
      this.ex,
      h,
      (m) => this.log(m),
      (ok) => {
        // 'ended' may come while the session store answers; 'failed' means the client or the upstream went.
        if (this.phase === 'failed') return;
        if (!ok) {
          this.fail(503, null);
          return;
        }
        this.delivered = true;
        this.answer(h, output);
      },
    );
  }

  private answer(h: CgiHead, output: CgiOutput): void {
    const ex = this.ex;
    if (h.localRedirect && h.location !== null) {
      this.stop();
      ex.reroute(h.location);
      return;
    }
    if (this.phase === 'waiting') this.move('streaming');
    const comp = ex.location?.compression;
    ex.respond(streamedResponse(comp, ex.head.headers, h.status, h.headers, output, h.contentLength));
  }

  // ─── The response body (OutputOwner) ──

  pauseStdout(): void {
    this.up?.pause();
    this.readDl.clear(); // a client that reads slowly is not the upstream's fault
  }

  resumeStdout(): void {
    if (this.up === null) return;
    this.up.resume();
    this.readDl.arm(this.target.cfg.readTimeout);
  }

  outputComplete(): void {
    // The body is all out; END_REQUEST may still be on its way, and the connection waits for it.
  }

  outputFailed(status: number): void {
    this.fail(status, null);
  }

  // ─── Ending ──

  /** The client went away: the upstream connection is closed (php-fpm then ends the request, as with nginx). */
  abort(): void {
    this.stop();
  }

  /** Nothing more is wanted from upstream. */
  private stop(): void {
    if (this.phase === 'failed') return;
    this.phase = 'failed';
    this.settle();
  }

  private settle(): void {
    this.output?.drop();
    this.connectDl.clear();
    this.readDl.clear();
    this.sendDl.clear();
    this.stderrLog.flush();
    this.closeSpool();
    this.drop();
  }

  private timedOut(what: string): void {
    if (this.phase === 'failed' || this.phase === 'ended') return;
    const peer = this.upstreamFailed();
    this.log(`upstream timed out while ${what} upstream`);
    this.drop();
    if (this.phase === 'connecting' && !this.bodyStarted) {
      this.tried.add(peer);
      this.connect(); // the next server
      return;
    }
    this.fail(504, null);
  }

  /** An error page when nothing was sent yet, else a cut response. */
  private fail(status: number, message: string | null): void {
    if (this.phase === 'failed') return;
    if (message !== null) this.log(message);
    countUpstreamFailure();
    const output = this.output;
    const answered = this.delivered;
    this.move('failed');
    const cut = output?.cut('fastcgi upstream failed') === true;
    this.settle();
    if (!cut && !answered) this.ex.respond(errorResponse(this.ex.server, status));
  }
}
