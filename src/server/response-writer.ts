/**
 * Writing one response to a transport (docs/ARCHITECTURE.md "Writing a response"): the framing (RFC 9112 §6),
 * the head, and the body from memory, from a file, or from a stream (CGI), each paced by the client.
 *
 * The writer owns what a response holds while it is written: the file descriptor of a file body (closed when done
 * or aborted) and the body source (aborted if the connection goes). It tells its owner when the response is
 * completely handed to the transport, or that the connection must be cut.
 */
import * as fs from 'node:fs';
import { NO_RATE_LIMIT, type RateLimit } from '../config/types.js';
import type { RequestHead } from '../http/request.js';
import {
  serializeHead,
  type Body,
  type BodySink,
  type BodySource,
  type FilePart,
  type Framing,
  type Response,
} from '../http/response.js';
import { statusHasNoBody } from '../http/status.js';
import type { Transport } from './transport.js';

/** Largest piece of a file read at once (docs/ARCHITECTURE.md "File I/O"). */
const FILE_CHUNK = 64 * 1024;
/**
 * Bytes of a file a response hands to the transport's queue when the kernel's send buffer is full: the write that
 * tells us (through its completion) when the socket takes data again. Everything else goes to the kernel directly,
 * so a stalled reader holds this much of our memory, not a queue of chunks (the file itself is the buffer, as with
 * NGINX's sendfile).
 */
const PROBE_BYTES = 1024;
/** A rate-limited response wakes about this many times a second (one timer each), sending what the limit allowed. */
const PACE_HZ = 20;
/** Bytes of a file written in one turn of the loop before yielding to other clients. */
const TURN_BUDGET = 1024 * 1024;
/** A read buffer shared by all file responses: the kernel copies what it takes, so it is free after each write. */
let scratch: Buffer | null = null;

const CHUNK_END = Buffer.from('0\r\n\r\n', 'latin1');
/** The end of a chunked body sent as one chunk: that chunk's CRLF, then the last chunk. */
const LAST_CHUNK_AFTER_DATA = Buffer.from('\r\n0\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);

/** How a response goes on the wire. */
export interface FramingChoice {
  readonly framing: Framing;
  /** The connection may serve another request after it. */
  readonly keepAlive: boolean;
  /** Body bytes are sent (not for HEAD, nor for statuses without a body). */
  readonly sendBody: boolean;
}

/**
 * The framing of a response (RFC 9112 §6.1-§6.3): none for 1xx/204/304, Content-Length when the length is known,
 * chunked for an HTTP/1.1 request, else close-delimited (which ends the connection). `request` is null when the
 * request line could not be read. Pure.
 */
export function chooseFraming(
  status: number,
  length: number,
  request: { method: string; minor: 0 | 1 } | null,
  keepAlive: boolean,
): FramingChoice {
  const isHead = request?.method === 'HEAD';
  if (statusHasNoBody(status)) return { framing: 'none', keepAlive, sendBody: false };
  if (length >= 0) return { framing: 'length', keepAlive, sendBody: !isHead };
  if (request !== null && request.minor === 1) return { framing: 'chunked', keepAlive, sendBody: !isHead };
  return { framing: 'close', keepAlive: false, sendBody: !isHead };
}

/** What the writer needs from its connection. */
export interface WriterOwner {
  readonly transport: Transport;
  /** The response is entirely handed to the transport. */
  written(): void;
  /** The response cannot be completed (a file shrank, a stream failed): the connection must be cut. */
  broken(reason: string): void;
  /** The client took data: the send timeout starts again, from `from` when the writer holds the response back
   *  until then (limit_rate: our own pause is not the client's delay). */
  progressed(from?: number): void;
}

/** An in-memory body sent in paced pieces (a rate-limited response). */
interface BytesState {
  readonly data: Buffer;
  off: number;
  /** What follows the data: the last chunk of chunked framing, else nothing. */
  readonly trailer: Buffer;
}

/** A file body being sent: where we are in its parts. */
interface FileState {
  readonly fd: number;
  readonly parts: readonly FilePart[];
  readonly tail: Buffer | null;
  part: number;
  pos: number;
  preSent: boolean;
}

/** Writes one response at a time for a connection. */
export class ResponseWriter {
  /** Body bytes sent for the current response (NGINX's $body_bytes_sent). */
  bytesOut = 0;
  /** Head bytes of the current response (with bytesOut, NGINX's $bytes_sent). */
  headBytesOut = 0;
  private framing: Framing = 'none';
  private file: FileState | null = null;
  private source: BodySource | null = null;
  /** A probe write of a file response is in the transport's queue (see pumpFile). */
  private probing = false;
  /** TCP_NODELAY is on (set on the first response that needs it). */
  private noDelay = false;
  /** The final bytes were queued past the high-water mark: onDrain completes the response. */
  private finishing = false;
  /** limit_rate of the current response; rate 0 (the default) leaves every path as it is without one. */
  private limit: RateLimit = NO_RATE_LIMIT;
  /** When the current response started: the limit's clock. */
  private paceStart = 0;
  /** The pacing timer, while the limit holds the response back. */
  private paceTimer: NodeJS.Timeout | null = null;
  /** A paced in-memory body. */
  private bytes: BytesState | null = null;
  /** Streamed output (CGI, proxy) the limit holds back; its source is paused meanwhile. */
  private held: Buffer | null = null;
  /** A paced write of bytes or a stream filled the transport's queue: onDrain continues it. */
  private blocked = false;

  constructor(private readonly owner: WriterOwner) {}

  /** True while a streamed body (CGI output) is being written. */
  get streaming(): boolean {
    return this.source !== null;
  }

  /**
   * Starts writing `res` (already framed by `choice`); `written()` is called, maybe at once, when it is all
   * handed to the transport.
   */
  start(res: Response, choice: FramingChoice, now: number, limit: RateLimit = NO_RATE_LIMIT): void {
    const t = this.owner.transport;
    this.bytesOut = 0;
    this.headBytesOut = 0;
    this.framing = choice.framing;
    this.limit = limit;
    this.paceStart = now;
    this.blocked = false;
    const paced = limit.rate > 0;
    const body = res.body;
    const { sendBody, keepAlive } = choice;
    // Nagle's algorithm holds a small segment only while an earlier one is unacknowledged. A response written at
    // once and then closed never waits on it (closing pushes what is queued), so, as NGINX does, TCP_NODELAY is set
    // only on a connection that stays open or a response written in several pieces: one syscall fewer per
    // `Connection: close` request.
    // An empty body has nothing to pace: it goes with its head, or a paced pump would wait for bytes that never come.
    const oneWrite = body.kind === 'bytes' && choice.framing === 'length' && (!paced || body.data.length === 0);
    if (!this.noDelay && (keepAlive || (sendBody && body.kind !== 'none' && !oneWrite))) {
      this.noDelay = true;
      t.setNoDelay(true);
    }
    if (sendBody && oneWrite) {
      this.bytesOut = body.data.length;
      const wire = wireBytes(res, body.data, keepAlive, now);
      this.headBytesOut = wire.length - body.data.length;
      this.finishWith(wire);
      return;
    }
    const head = Buffer.from(serializeHead(res, choice.framing, keepAlive, now), 'latin1');
    this.headBytesOut = head.length;
    if (!sendBody || body.kind === 'none') {
      releaseBody(body);
      this.finishWith(head);
      return;
    }
    if (body.kind === 'bytes' && paced) {
      // A small file, a listing, an error page under limit_rate: the bytes go in pieces the limit allows.
      const chunked = choice.framing === 'chunked';
      if (chunked) t.writev([head, Buffer.from(body.data.length.toString(16) + '\r\n', 'latin1')]);
      else t.write(head);
      this.bytes = { data: body.data, off: 0, trailer: chunked ? LAST_CHUNK_AFTER_DATA : EMPTY };
      this.pumpBytes();
      return;
    }
    if (body.kind === 'bytes') {
      // Close-delimited or chunked in-memory bodies (rare): head, then the bytes.
      this.bytesOut = body.data.length;
      if (choice.framing === 'chunked') {
        t.writev([head, Buffer.from(body.data.length.toString(16) + '\r\n', 'latin1'), body.data]);
        this.finishWith(LAST_CHUNK_AFTER_DATA);
      } else {
        t.write(head);
        this.finishWith(body.data);
      }
      return;
    }
    t.write(head);
    if (body.kind === 'file') {
      this.file = {
        fd: body.fd,
        parts: body.parts,
        tail: body.tail,
        part: 0,
        pos: body.parts[0]?.start ?? 0,
        preSent: false,
      };
      this.pumpFile();
      return;
    }
    this.source = body.source;
    body.source.start(this.sinkFor(body.source));
  }

  /** The transport's queue drained: continue whatever waits for it. */
  drained(): void {
    this.blocked = false;
    if (this.paceTimer === null) this.continueBody();
  }

  /** Carries on with the body after the transport drained or the limit's pause ended. */
  private continueBody(): void {
    if (this.file !== null) this.pumpFile();
    else if (this.bytes !== null) this.pumpBytes();
    else if (this.held !== null) this.pumpHeld();
    else if (this.source !== null) this.source.resume();
    else if (this.finishing) {
      this.finishing = false;
      this.owner.written();
    }
  }

  /** The connection is going away: release the file and stop the source. */
  abort(): void {
    this.finishing = false;
    this.unpace();
    this.bytes = null;
    this.held = null;
    if (this.file !== null) {
      closeFd(this.file.fd);
      this.file = null;
    }
    const src = this.source;
    this.source = null;
    if (src !== null) src.abort();
  }

  // ─── limit_rate (nginx's ngx_http_core_module) ───────────────────────────────────────────────────────────

  /**
   * Body bytes the limit lets go now: `after` at once, then `rate` per second since the response started, less
   * what was sent. As nginx's limit_rate, time the client took earlier is credit, so the average over the whole
   * response is the limit (nginx counts from the request's start and grants a second's worth ahead; we do not).
   */
  private allowance(now: number): number {
    const { rate, after } = this.limit;
    return Math.floor(after + (rate * (now - this.paceStart)) / 1000) - this.bytesOut;
  }

  /** The piece a paced response waits for before it wakes: a PACE_HZ-th of a second's worth, at most `left`. */
  private quantum(left: number): number {
    return Math.max(1, Math.min(left, FILE_CHUNK, Math.floor(this.limit.rate / PACE_HZ)));
  }

  /**
   * How many of the next `left` bytes the limit lets go now (at most `left`). When fewer than a quantum are, 0:
   * the response is held by a timer on the loop (never a wait in place) until they are, and the connection's send
   * timeout is pushed past the pause.
   */
  private paceFor(left: number): number {
    const now = Date.now();
    const allowed = this.allowance(now);
    const want = this.quantum(left);
    if (allowed >= want) return Math.min(left, allowed);
    const delay = Math.max(1, Math.ceil(((want - allowed) * 1000) / this.limit.rate));
    this.paceTimer = setTimeout(this.unhold, delay);
    this.owner.progressed(now + delay);
    return 0;
  }

  private readonly unhold = (): void => {
    this.paceTimer = null;
    this.continueBody();
  };

  private unpace(): void {
    if (this.paceTimer === null) return;
    clearTimeout(this.paceTimer);
    this.paceTimer = null;
  }

  /** Sends a paced in-memory body: what the limit allows, then a timer for the rest; the queue's drain resumes. */
  private pumpBytes(): void {
    const b = this.bytes;
    if (b === null || this.paceTimer !== null || this.blocked) return;
    const t = this.owner.transport;
    this.owner.progressed();
    for (;;) {
      const n = this.paceFor(Math.min(b.data.length - b.off, TURN_BUDGET));
      if (n === 0) return;
      const piece = b.data.subarray(b.off, b.off + n);
      b.off += n;
      this.bytesOut += n;
      if (b.off >= b.data.length) {
        this.bytes = null;
        t.write(piece);
        this.finishWith(b.trailer);
        return;
      }
      if (!t.write(piece)) {
        this.blocked = true; // drained() continues
        return;
      }
    }
  }

  /** One piece of a streamed body: a chunk of its own in chunked framing. */
  private writePiece(piece: Buffer): boolean {
    const t = this.owner.transport;
    if (this.framing === 'chunked')
      return t.writev([Buffer.from(piece.length.toString(16) + '\r\n', 'latin1'), piece, CRLF]);
    return t.write(piece);
  }

  /**
   * Lets out the streamed output the limit held back, in pieces as it allows; then the source resumes, or, when it
   * ended meanwhile, the body ends. From inside push, the source is told by push's result instead: true when all
   * went and the source may push on.
   */
  private pumpHeld(resume = true): boolean {
    for (;;) {
      const h = this.held;
      if (h === null || this.paceTimer !== null || this.blocked) break;
      const n = this.paceFor(h.length);
      if (n === 0) return false;
      this.held = n === h.length ? null : h.subarray(n);
      this.bytesOut += n;
      if (!this.writePiece(n === h.length ? h : h.subarray(0, n))) this.blocked = true;
    }
    if (this.held !== null || this.paceTimer !== null) return false;
    if (this.source === null) {
      this.finishWith(this.framing === 'chunked' ? CHUNK_END : EMPTY);
      return false;
    }
    if (this.blocked) return false;
    if (resume) this.source.resume();
    return true;
  }

  /** Queues the last bytes of a response; it is written when the transport took them. */
  private finishWith(data: Buffer): void {
    if (this.owner.transport.write(data)) {
      this.owner.written();
    } else {
      this.finishing = true; // drained() finishes it
    }
  }

  /**
   * Sends file parts in bounded reads. Each chunk goes straight to the kernel (tryWrite) for as long as it takes
   * it whole; when it takes less, or nothing, the next PROBE_BYTES go through the transport's queue instead and
   * their completion resumes the pump. So a response never queues more than PROBE_BYTES beyond the kernel's
   * buffer, however slowly the client reads, and the one scratch buffer serves every response. A transport
   * without direct writes (TLS) gets each chunk through its queue, the next one read when it was written.
   */
  private pumpFile(): void {
    const f = this.file;
    if (f === null || this.probing || this.paceTimer !== null) return;
    const t = this.owner.transport;
    if (t.canSendFile) {
      this.sendFileParts(f);
      return;
    }
    // Called at the start, on a probe's completion, or after a turn's budget was sent: each time the client took
    // data, which is what send_timeout measures (direct writes bring no 'drain').
    this.owner.progressed();
    const direct = t.canTryWrite;
    let budget = TURN_BUDGET;
    const paced = this.limit.rate > 0;
    try {
      while (f.part < f.parts.length) {
        const part = f.parts[f.part];
        if (part === undefined) break;
        if (!f.preSent) {
          f.preSent = true;
          if (part.pre !== null) {
            this.bytesOut += part.pre.length;
            t.write(part.pre);
          }
        }
        if (f.pos >= part.end) {
          f.part++;
          f.preSent = false;
          f.pos = f.parts[f.part]?.start ?? 0;
          continue;
        }
        let n = Math.min(FILE_CHUNK, part.end - f.pos);
        if (paced && (n = this.paceFor(n)) === 0) return;
        const chunk = (scratch ??= Buffer.allocUnsafe(FILE_CHUNK));
        const got = fs.readSync(f.fd, chunk, 0, n, f.pos);
        if (got === 0) {
          // The file shrank under us: the promised length cannot be kept, so the connection must end.
          this.abort();
          this.owner.broken('file shrank while being sent');
          return;
        }
        // Bytes still queued (the head, a preamble) go first.
        const took = direct && t.writableLength === 0 ? t.tryWrite(chunk, got) : 0;
        if (took < 0) {
          this.abort();
          this.owner.broken('connection lost'); // EPIPE, ECONNRESET
          return;
        }
        f.pos += took;
        this.bytesOut += took;
        budget -= took;
        if (took < got) {
          // The kernel's buffer is full: queue a little (copied, the scratch buffer stays free) and wait for it.
          const size = Math.min(got - took, direct ? PROBE_BYTES : FILE_CHUNK);
          const probe = Buffer.allocUnsafe(size);
          chunk.copy(probe, 0, took, took + size);
          f.pos += size;
          this.bytesOut += size;
          this.probing = true;
          t.write(probe, this.probeDone);
          return;
        }
        if (budget <= 0) {
          setImmediate(this.continuePump);
          return;
        }
      }
    } catch (err) {
      this.abort();
      this.owner.broken(`reading file: ${String(err)}`);
      return;
    }
    const tail = f.tail;
    closeFd(f.fd);
    this.file = null;
    if (tail !== null) this.bytesOut += tail.length;
    this.finishWith(tail ?? EMPTY);
  }

  /**
   * The file pump of a transport with sendfile(2): the kernel copies from the file to the socket, nothing passes
   * through our memory. Each call sends what the socket takes now; a short send means onDrain follows.
   */
  private sendFileParts(f: FileState): void {
    const t = this.owner.transport;
    this.owner.progressed();
    for (;;) {
      const part = f.parts[f.part];
      if (part === undefined) break;
      if (!f.preSent) {
        f.preSent = true;
        if (part.pre !== null) {
          this.bytesOut += part.pre.length;
          t.write(part.pre);
        }
      }
      if (f.pos >= part.end) {
        f.part++;
        f.preSent = false;
        f.pos = f.parts[f.part]?.start ?? 0;
        continue;
      }
      let want = part.end - f.pos;
      if (this.limit.rate > 0 && (want = this.paceFor(Math.min(want, TURN_BUDGET))) === 0) return;
      const sent = t.sendFile(f.fd, f.pos, want);
      if (sent < 0) {
        this.abort();
        this.owner.broken(`sendfile failed (errno ${-sent})`);
        return;
      }
      f.pos += sent;
      this.bytesOut += sent;
      if (sent < want) {
        // Nothing sent and the file has no more bytes where it should: it shrank under us.
        if (sent === 0 && f.pos < part.end && fileShorterThan(f.fd, part.end)) {
          this.abort();
          this.owner.broken('file shrank while being sent');
        }
        return; // onDrain continues
      }
    }
    const tail = f.tail;
    closeFd(f.fd);
    this.file = null;
    if (tail !== null) this.bytesOut += tail.length;
    this.finishWith(tail ?? EMPTY);
  }

  /** A probe write reached the kernel: the socket takes data again. */
  private readonly probeDone = (): void => {
    this.probing = false;
    this.pumpFile();
  };

  /** The next turn of a file response that used up its budget. */
  private readonly continuePump = (): void => {
    this.pumpFile();
  };

  /** The sink a streamed body (CGI) pushes into: chunked framing for 1.1, raw for close-delimited 1.0. */
  private sinkFor(source: BodySource): BodySink {
    return {
      push: (chunk: Buffer): boolean => {
        if (this.source !== source || chunk.length === 0) return true;
        this.owner.progressed();
        if (this.limit.rate > 0) {
          // Held here and let out as the limit allows; the source waits until all of it went.
          this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
          return this.pumpHeld(false);
        }
        this.bytesOut += chunk.length;
        return this.writePiece(chunk);
      },
      end: (): void => {
        if (this.source !== source) return;
        this.source = null;
        // Output still held back by the limit goes first; pumpHeld ends the body after it.
        if (this.held === null) this.finishWith(this.framing === 'chunked' ? CHUNK_END : EMPTY);
      },
      fail: (reason: string): void => {
        if (this.source !== source) return;
        this.source = null;
        this.held = null;
        this.unpace();
        this.owner.broken(`response stream failed: ${reason}`);
      },
    };
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
  if (
    c !== undefined &&
    c.second === second &&
    c.status === res.status &&
    c.headers === res.headers &&
    c.keepAlive === keepAlive
  ) {
    return c.out;
  }
  const head = serializeHead(res, 'length', keepAlive, now);
  const out = Buffer.allocUnsafe(head.length + data.length);
  out.write(head, 0, 'latin1');
  data.copy(out, head.length);
  // Only bodies shared between responses are worth remembering (small files, error pages): not a fresh buffer.
  if (data.length <= 64 * 1024)
    wireCache.set(data, { second, status: res.status, headers: res.headers, keepAlive, out });
  return out;
}

/** True when the open file `fd` now ends before `end` (it was truncated while being sent). */
function fileShorterThan(fd: number, end: number): boolean {
  try {
    return fs.fstatSync(fd).size < end;
  } catch {
    return true;
  }
}

function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

/** Frees what an unsent body holds (an open file, a running script). */
export function releaseBody(body: Body): void {
  if (body.kind === 'file') closeFd(body.fd);
  else if (body.kind === 'stream') body.source.abort();
}

/** The request line's facts chooseFraming needs, or null. */
export function requestFacts(head: RequestHead | null): { method: string; minor: 0 | 1 } | null {
  return head === null ? null : { method: head.method, minor: head.minor };
}
