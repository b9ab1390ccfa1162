/**
 * A gzip stream (RFC 1952) made of stateless synchronous calls, so no zlib object outlives a call and nothing
 * runs on the thread pool. Each slice of input is deflated raw (RFC 1951) with the previous 32 KiB of input as
 * its preset dictionary and ends in a sync flush (byte-aligned, not final); a decoder sees one deflate stream
 * whose back-references reach into the data it has already produced (the way pigz compresses in parallel).
 * `finish()` adds the final block and the CRC-32 / length trailer. Node's own stream objects keep state, but
 * their synchronous path closes them after one call, and their `write` runs on the thread pool.
 */
import * as zlib from 'node:zlib';

/** Deflate's window: the most a back-reference can reach. */
const WINDOW = 32 * 1024;
/** gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown (RFC 1952 §2.3). */
const HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/** Encodes a body piece by piece into one gzip member. */
export class GzipStream {
  private window: Buffer = Buffer.alloc(0);
  private crc = 0;
  private length = 0;
  private started = false;

  constructor(private readonly level: number) {}

  /** The encoding of `chunk` (keep it small: the call takes time in proportion; see CompressedSource). */
  write(chunk: Buffer): Buffer {
    if (chunk.length === 0) return Buffer.alloc(0);
    const out = this.deflate(chunk, zlib.constants.Z_SYNC_FLUSH);
    this.crc = zlib.crc32(chunk, this.crc);
    this.length += chunk.length;
    this.window =
      chunk.length >= WINDOW
        ? Buffer.from(chunk.subarray(chunk.length - WINDOW))
        : Buffer.concat([this.window, chunk]).subarray(-WINDOW);
    return out;
  }

  /** The final block and the trailer; nothing may be written afterwards. */
  finish(): Buffer {
    const last = this.deflate(Buffer.alloc(0), zlib.constants.Z_FINISH);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.length % 2 ** 32, 4); // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1)
    return Buffer.concat([last, trailer]);
  }

  private deflate(input: Buffer, flush: number): Buffer {
    const opts: zlib.ZlibOptions = { level: this.level, finishFlush: flush };
    if (this.window.length > 0) opts.dictionary = this.window;
    const body = zlib.deflateRawSync(input, opts);
    if (this.started) return body;
    this.started = true;
    return Buffer.concat([HEADER, body]);
  }
}
