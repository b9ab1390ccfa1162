/**
 * A connection's unparsed input: what arrived and has not been consumed yet (a partial head, body bytes a paused
 * receiver has not taken, pipelined requests). Chunks are kept as they came while consumed from the front, and
 * joined only when a piece arrives behind unconsumed bytes.
 */

/** Unparsed input: `buf[off, buf.length)`. */
export class InputBuffer {
  buf: Buffer | null = null;
  off = 0;

  /** True when unconsumed bytes are held. */
  get has(): boolean {
    return this.buf !== null && this.off < this.buf.length;
  }

  /** Bytes not consumed yet. */
  get size(): number {
    return this.buf === null ? 0 : this.buf.length - this.off;
  }

  append(chunk: Buffer): void {
    this.buf = this.buf === null || !this.has ? chunk : Buffer.concat([this.buf.subarray(this.off), chunk]);
    this.off = 0;
  }

  /** Drops everything (also what was consumed, so the buffer can be collected). */
  clear(): void {
    this.buf = null;
    this.off = 0;
  }
}
