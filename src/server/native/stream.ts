/**
 * A non-blocking descriptor on the native loop (a TCP socket, or one end of a child's pipe): its read side, its
 * write queue and its epoll interest. NativeTransport (sockets) and the launcher's pipes build on it.
 *
 * What one wake-up may do, per descriptor: at most ONE read(2) (level-triggered: what is left comes back on the
 * next wake-up, so one busy peer cannot starve the others) and at most ONE write(2)/writev(2)/sendfile(2). Writes
 * are queued and leave in one writev once the current JavaScript turn is over (NativeLoop.defer). A write that the
 * kernel takes only in part, or that would be the second in this wake-up, waits for EPOLLOUT, which is armed only
 * while something waits for it: a level-triggered EPOLLOUT on an idle socket would wake the loop for nothing.
 * Likewise EPOLLIN is armed only while reading: a paused stream whose peer keeps sending must not wake us.
 *
 * The kernel always reports EPOLLERR and EPOLLHUP, whatever the interest. EPOLLERR (a reset, a pipe with no
 * reader) closes the stream. EPOLLHUP while paused would be reported at every wake-up, so the descriptor is taken
 * out of the epoll set ("parked") until resume() puts it back to read what is left.
 */
import { E, type Deferred, type LoopHandler, type NativeLoop } from './loop.js';
import type { NativeAddon } from './addon.js';

/**
 * Reads land in one shared 64 KiB pool (the loop is single-threaded and each chunk leaves it before the next read).
 * A small chunk is copied out with Buffer.from, which takes it from Node's own 8 KiB slab: measured
 * (scripts/bench-native.mjs read) at ~0.5 µs per 200-byte read against ~1.0–1.5 µs for a Buffer made by the addon
 * (napi_create_buffer_copy) and ~2–2.8 µs for a fresh 64 KiB Buffer per read. A chunk of HANDOVER bytes or more
 * is not copied: the pool itself is handed over (sliced) and a new one allocated, the cheapest for large reads,
 * at no more than twice the bytes retained.
 */
let readPool: Buffer = Buffer.allocUnsafeSlow(64 * 1024);
const HANDOVER = 32 * 1024;

/** Default bytes queued before write() says false. */
export const DEFAULT_HIGH_WATER = 64 * 1024;
/** Bytes asked of one read(2) (the addon's pool is this big). */
export const READ_SIZE = 64 * 1024;

/** Options of a native stream. */
export interface NativeStreamOptions {
  /** Bytes queued before write() returns false (default 64 KiB). */
  readonly highWaterMark?: number;
}

const NO_BYTES: Buffer = Buffer.alloc(0);

/** The shared mechanics; subclasses say what the events mean to their owner. */
export abstract class NativeStream implements LoopHandler, Deferred {
  /** NativeLoop.defer's mark. */
  deferQueued = false;
  /** read(2) calls that returned data, EOF or an error (not EAGAIN), for tests and measurements. */
  reads = 0;
  /** write(2)/writev(2)/sendfile(2) calls made. */
  writes = 0;

  protected readonly addon: NativeAddon;
  private readonly IN: number;
  private readonly OUT: number;
  private readonly ERR: number;
  private readonly HUP: number;
  private readonly highWater: number;

  /** Generation of the registration; 0 until registered. */
  private gen = 0;
  /** Events currently asked of epoll. */
  private armed = 0;
  /** Out of the epoll set after EPOLLHUP while paused. */
  private parked = false;

  protected paused = false;
  protected readEnded = false;

  private queue: Buffer[] = [];
  private qHead = 0;
  private qOff = 0;
  private queued = 0;
  /** The next write must wait for EPOLLOUT. */
  private waitWritable = false;
  /** The loop window of the last write system call. */
  private writtenWindow = -1;
  /** onDrain is owed (write() said false, or sendFile() sent less than asked). */
  private needDrain = false;

  private endRequested = false;
  private closeRequested = false;
  private writeShut = false;
  protected destroyed = false;
  private closeDelivered = false;

  constructor(
    protected readonly loop: NativeLoop,
    /** The descriptor; owned by this stream from now on (it closes it). */
    readonly fd: number,
    private readonly readable: boolean,
    options: NativeStreamOptions = {},
  ) {
    this.addon = loop.addon;
    const c = loop.addon.constants;
    this.IN = c.EPOLLIN;
    this.OUT = c.EPOLLOUT;
    this.ERR = c.EPOLLERR;
    this.HUP = c.EPOLLHUP;
    this.highWater = options.highWaterMark ?? DEFAULT_HIGH_WATER;
  }

  // ─── Hooks ─────────────────────────────────────────────────────────────────────────────────────────────────

  protected abstract emitData(chunk: Buffer): void;
  protected abstract emitEnd(): void;
  protected abstract emitDrain(): void;
  protected abstract emitClose(): void;
  /** The write side is finished (end() and the queue drained): a socket half-closes, a pipe closes. */
  protected abstract finishWriting(): void;
  /** EPOLLERR, or a read/write that failed: the stream is dead. */
  protected onFailure(): void {
    this.destroyNow();
  }

  // ─── Registration ──────────────────────────────────────────────────────────────────────────────────────────

  /** Puts the descriptor in the epoll set; -errno if it could not be (the caller then destroys the stream). */
  protected register(): number {
    if (this.gen !== 0 || this.destroyed) return 0;
    const want = this.wanted();
    const gen = this.loop.register(this.fd, want, this);
    if (gen < 0) return gen;
    this.gen = gen;
    this.armed = want;
    return 0;
  }

  /** Holds writes until the first EPOLLOUT (a socket whose connect(2) is under way); before register(). */
  protected awaitWritable(): void {
    this.waitWritable = true;
  }

  private wanted(): number {
    let ev = 0;
    if (this.readable && !this.paused && !this.readEnded) ev |= this.IN;
    if (this.waitWritable) ev |= this.OUT;
    return ev;
  }

  /** Brings epoll's interest in line with the state: at most one epoll_ctl, and only when it changed. */
  private sync(): void {
    if (this.destroyed || this.gen === 0) return;
    const want = this.wanted();
    if (this.parked) {
      if (want !== 0 && this.loop.reattach(this.fd, this.gen, want) === 0) {
        this.parked = false;
        this.armed = want;
      }
      return;
    }
    if (want !== this.armed) {
      if (this.loop.modify(this.fd, this.gen, want) === 0) this.armed = want;
      else this.onFailure();
    }
  }

  // ─── Events ────────────────────────────────────────────────────────────────────────────────────────────────

  /** Loop callback: at most one read now; a write is left to the deferred flush (one per wake-up). */
  onEvents(events: number): void {
    if (this.destroyed) return;
    if ((events & this.ERR) !== 0) {
      this.onFailure();
      return;
    }
    if ((events & this.OUT) !== 0 && this.waitWritable) {
      this.waitWritable = false;
      this.loop.defer(this);
    }
    if ((events & (this.IN | this.HUP)) === 0) return;
    if (this.readable && !this.paused && !this.readEnded) this.readOnce();
    else if ((events & this.HUP) !== 0) this.hangup();
  }

  private readOnce(): void {
    const pool = readPool;
    const r = this.addon.readInto(this.fd, pool, 0, READ_SIZE);
    if (r > 0) {
      this.reads++;
      let chunk: Buffer;
      if (r >= HANDOVER) {
        chunk = pool.subarray(0, r);
        readPool = Buffer.allocUnsafeSlow(READ_SIZE);
      } else {
        chunk = Buffer.from(pool.subarray(0, r));
      }
      this.emitData(chunk);
      return;
    }
    if (r === E.AGAIN || r === E.INTR) return;
    this.reads++;
    if (r === 0) {
      this.readEnded = true;
      this.loop.defer(this); // EPOLLIN off: EOF stays readable forever
      this.emitEnd();
      return;
    }
    this.onFailure(); // ECONNRESET, ETIMEDOUT...
  }

  /** EPOLLHUP with nothing to read now: both directions are over (or, paused, later). */
  private hangup(): void {
    if (this.paused && !this.readEnded && this.readable) {
      // Reported at every wake-up otherwise: out of the set until resume() wants to read what is left.
      if (this.loop.detach(this.fd, this.gen) === 0) {
        this.parked = true;
        this.armed = 0;
      } else {
        this.onFailure();
      }
      return;
    }
    this.destroyNow();
  }

  // ─── Reading ───────────────────────────────────────────────────────────────────────────────────────────────

  /** Stops reading (EPOLLIN off) until resume(). */
  pause(): void {
    if (this.destroyed || this.paused) return;
    this.paused = true;
    this.loop.defer(this);
  }

  /** Reads again. */
  resume(): void {
    if (this.destroyed || !this.paused) return;
    this.paused = false;
    this.loop.defer(this);
  }

  // ─── Writing ───────────────────────────────────────────────────────────────────────────────────────────────

  /** Read through a call, so that a handler's changes to the stream are seen (TypeScript keeps its narrowing). */
  private isDestroyed(): boolean {
    return this.destroyed;
  }

  /** Nothing queued, nothing waiting for the socket, no drain owed. */
  private isIdle(): boolean {
    return this.queued === 0 && !this.waitWritable && !this.needDrain;
  }

  /** Bytes accepted by write() and not yet taken by the kernel. */
  get writableLength(): number {
    return this.queued;
  }

  /** Queues `data` (kept by reference until written: do not change it); false past the high-water mark. Bytes
   *  written after end(), closeAfterWrite() or destroy() are dropped. */
  write(data: Buffer): boolean {
    if (this.destroyed || this.endRequested || this.closeRequested) return true;
    if (data.length > 0) {
      this.queue.push(data);
      this.queued += data.length;
      this.loop.defer(this);
    }
    return this.belowHighWater();
  }

  /** Queues several buffers; one writev sends them with whatever else this turn queued. */
  writev(chunks: readonly Buffer[]): boolean {
    if (this.destroyed || this.endRequested || this.closeRequested) return true;
    for (const c of chunks) {
      if (c.length === 0) continue;
      this.queue.push(c);
      this.queued += c.length;
    }
    if (this.queued > 0) this.loop.defer(this);
    return this.belowHighWater();
  }

  private belowHighWater(): boolean {
    if (this.queued < this.highWater) return true;
    this.needDrain = true;
    return false;
  }

  /**
   * One sendfile(2) of `fd` from `offset`, when this wake-up has not written yet and nothing is queued; otherwise
   * 0 and onDrain follows once it may. Returns the bytes sent (fewer than asked: onDrain follows), or -errno.
   */
  protected sendFileNow(fd: number, offset: number, length: number): number {
    if (this.destroyed || this.endRequested || this.closeRequested) return E.PIPE;
    if (length <= 0) return 0;
    if (this.queued > 0 || this.waitWritable || this.writtenWindow === this.loop.window) {
      this.needDrain = true;
      if (this.queued === 0) this.waitWritable = true; // the next wake-up writes
      this.loop.defer(this);
      return 0;
    }
    const count = Math.min(length, this.addon.constants.SENDFILE_MAX);
    this.writtenWindow = this.loop.window;
    this.writes++;
    const n = this.addon.sendfile(this.fd, fd, offset, count);
    if (n === E.AGAIN || n === E.INTR || (n >= 0 && n < length)) {
      this.needDrain = true;
      this.waitWritable = true;
      this.loop.defer(this);
      return n < 0 ? 0 : n;
    }
    return n;
  }

  /** One write(2) or writev(2) of the queue (at most IOV_MAX buffers). */
  private writeQueue(): number {
    const q = this.queue;
    const start = this.qHead;
    const count = Math.min(q.length - start, this.addon.constants.IOV_MAX);
    this.writes++;
    let n: number;
    if (count === 1) {
      const b = q[start] ?? NO_BYTES;
      n = this.addon.write(this.fd, b, this.qOff, b.length - this.qOff);
    } else {
      n = this.addon.writev(this.fd, q, start, this.qOff, count);
    }
    if (n > 0) this.consume(n);
    return n;
  }

  /** Drops `n` written bytes from the head of the queue. */
  private consume(n: number): void {
    this.queued -= n;
    const q = this.queue;
    let left = n;
    while (left > 0) {
      const b = q[this.qHead];
      if (b === undefined) break;
      const rest = b.length - this.qOff;
      if (left < rest) {
        this.qOff += left;
        return;
      }
      left -= rest;
      q[this.qHead] = NO_BYTES; // let the written buffer go now, not when the whole queue is done
      this.qHead++;
      this.qOff = 0;
    }
    if (this.qHead >= q.length) {
      q.length = 0;
      this.qHead = 0;
    } else if (this.qHead > 1024) {
      q.splice(0, this.qHead);
      this.qHead = 0;
    }
  }

  /** Finishes writing once the queue is empty (end: half-close or close the pipe). */
  end(): void {
    if (this.destroyed || this.endRequested) return;
    this.endRequested = true;
    this.loop.defer(this);
  }

  /** Closes once the queue is empty. */
  closeAfterWrite(): void {
    if (this.destroyed || this.closeRequested) return;
    this.closeRequested = true;
    this.loop.defer(this);
  }

  /** Closes now, dropping the queue; onClose follows after this turn. */
  destroy(): void {
    this.destroyNow();
  }

  /** Half-closes a socket's write side (SHUT_WR) once, for finishWriting(). */
  protected shutdownWrite(): void {
    if (this.writeShut || this.destroyed) return;
    this.writeShut = true;
    const rc = this.addon.shutdown(this.fd, 1);
    if (rc < 0) this.onFailure();
  }

  protected destroyNow(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queue = [];
    this.qHead = 0;
    this.qOff = 0;
    this.queued = 0;
    this.needDrain = false;
    if (this.gen !== 0) this.loop.close(this.fd, this.gen, !this.parked);
    else this.addon.close(this.fd, false);
    this.loop.defer(this); // onClose on the loop, never from inside a call the owner made
  }

  // ─── The deferred flush: once per turn ─────────────────────────────────────────────────────────────────────

  /** Writes what this turn queued (one system call), owes onDrain, finishes end/close, then syncs interest. */
  runDeferred(): void {
    if (this.destroyed) {
      if (!this.closeDelivered) {
        this.closeDelivered = true;
        this.emitClose();
      }
      return;
    }
    if (this.queued > 0 && !this.waitWritable) {
      if (this.writtenWindow === this.loop.window) {
        this.waitWritable = true; // second write in this wake-up: the next EPOLLOUT does it
      } else {
        this.writtenWindow = this.loop.window;
        const n = this.writeQueue();
        if (n < 0 && n !== E.AGAIN && n !== E.INTR) {
          this.onFailure(); // EPIPE, ECONNRESET
          return;
        }
        if (this.queued > 0) this.waitWritable = true;
      }
    }
    if (this.queued === 0 && !this.waitWritable) {
      if (this.needDrain) {
        this.needDrain = false;
        this.emitDrain();
        if (this.isDestroyed()) return;
      }
      // emitDrain() may have written, asked for a drain, or closed: read the fields again.
      if (this.isIdle()) {
        if (this.closeRequested) {
          this.destroyNow();
          return;
        }
        if (this.endRequested && !this.writeShut) this.finishWriting();
      }
    }
    this.sync();
  }
}
