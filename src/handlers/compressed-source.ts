/**
 * A streamed body compressed as it flows (README "Compression"): wraps a BodySource (CGI output) and pushes its
 * gzip encoding. Compression is done in slices of at most SLICE bytes, and a turn of the loop stops compressing
 * once TURN_BUDGET_MS have gone (the rest waits for setImmediate, the source paused meanwhile), so a large
 * compressible download never holds other clients up for long.
 */
import type { BodySink, BodySource } from '../http/response.js';
import { GzipStream } from '../http/gzip-stream.js';

/** Input compressed per call. */
const SLICE = 16 * 1024;
/** Most time spent compressing in one turn of the loop. */
export const TURN_BUDGET_MS = 2;

/** The gzip encoding of `inner`'s bytes. */
export class CompressedSource implements BodySource {
  private readonly gzip: GzipStream;
  private sink: BodySink | null = null;
  private readonly pending: Buffer[] = [];
  private innerEnded = false;
  private paused = false;
  private innerPaused = false;
  private done = false;
  private timer: NodeJS.Immediate | null = null;

  constructor(
    private readonly inner: BodySource,
    level: number,
  ) {
    this.gzip = new GzipStream(level);
  }

  start(sink: BodySink): void {
    this.sink = sink;
    this.inner.start({
      push: (chunk) => {
        this.pending.push(chunk);
        this.pump();
        // Hold the source while input waits: it is taken in slices, not piled up.
        if (this.pending.length > 0) this.pauseInner();
        return !this.innerPaused;
      },
      end: () => {
        this.innerEnded = true;
        this.pump();
      },
      fail: (reason) => {
        this.stop();
        sink.fail(reason);
      },
    });
  }

  pause(): void {
    this.paused = true;
    this.pauseInner();
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  abort(): void {
    this.stop();
    this.inner.abort();
  }

  private stop(): void {
    this.done = true;
    this.pending.length = 0;
    if (this.timer !== null) clearImmediate(this.timer);
    this.timer = null;
  }

  private pauseInner(): void {
    if (this.innerPaused) return;
    this.innerPaused = true;
    this.inner.pause();
  }

  /** Compresses what is pending within this turn's budget, then ends the body or asks for more. */
  private pump(): void {
    const sink = this.sink;
    if (sink === null || this.done || this.paused) return;
    const deadline = performance.now() + TURN_BUDGET_MS;
    while (this.pending.length > 0) {
      if (performance.now() >= deadline) {
        this.timer ??= setImmediate(() => {
          this.timer = null;
          this.pump();
        });
        return;
      }
      const head = this.pending[0];
      if (head === undefined) break;
      const piece = head.length > SLICE ? head.subarray(0, SLICE) : head;
      if (piece === head) this.pending.shift();
      else this.pending[0] = head.subarray(SLICE);
      const out = this.gzip.write(piece);
      if (out.length > 0 && !sink.push(out)) {
        this.pause();
        return;
      }
    }
    if (this.innerEnded) {
      this.done = true;
      sink.push(this.gzip.finish());
      sink.end();
      return;
    }
    if (this.innerPaused) {
      this.innerPaused = false;
      this.inner.resume();
    }
  }
}
