/**
 * Script output the client cannot take yet: in memory up to PENDING_MAX, then spilled to an unlinked file, and
 * replayed in bounded reads (docs/ARCHITECTURE.md "File I/O"), as NGINX buffers upstream responses.
 *
 * Before the response starts (the request body is still arriving), a script such as an echo must be able to keep
 * writing, or it would stop reading its stdin and both sides would wait for each other: hence the spill.
 */
import * as fs from 'node:fs';
import type { BodySink } from '../../http/response.js';
import { appendAll, closeQuietly, openScratchFile } from './spool.js';

/** Output held in memory before it spills to a file. */
const PENDING_MAX = 64 * 1024;
/** Output kept on disk at most; the script's stdout should pause beyond it. */
const SPOOL_MAX = 256 * 1024 * 1024;
/** Largest read from the spool at once. */
const READ_CHUNK = 64 * 1024;

/** Held output of one script. Methods throw fs errors; the caller fails the run then. */
export class HeldOutput {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private fd = -1;
  private size = 0;
  private readPos = 0;

  /** Nothing is held. */
  get empty(): boolean {
    return this.pending.length === 0 && this.fd < 0;
  }

  /** Holds `chunk`; true when the spool is full (stop reading the script until replayed). */
  hold(chunk: Buffer): boolean {
    if (this.fd < 0 && this.pendingBytes + chunk.length <= PENDING_MAX) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      return false;
    }
    if (this.fd < 0) this.fd = openScratchFile();
    appendAll(this.fd, chunk, this.size);
    this.size += chunk.length;
    return this.size - this.readPos >= SPOOL_MAX;
  }

  /** Pushes held output into `sink` while it accepts; false when it asked to wait (`empty` tells what is left). */
  replay(sink: BodySink): boolean {
    let c: Buffer | undefined;
    while ((c = this.pending.shift()) !== undefined) {
      this.pendingBytes -= c.length;
      if (!sink.push(c)) return false;
    }
    while (this.fd >= 0 && this.readPos < this.size) {
      const n = Math.min(READ_CHUNK, this.size - this.readPos);
      const buf = Buffer.allocUnsafe(n);
      const got = fs.readSync(this.fd, buf, 0, n, this.readPos);
      if (got <= 0) throw new Error('output spool shorter than written');
      this.readPos += got;
      if (!sink.push(got === n ? buf : buf.subarray(0, got))) {
        if (this.readPos >= this.size) this.drop();
        return false;
      }
    }
    this.drop();
    return true;
  }

  /** Forgets everything held. */
  drop(): void {
    this.pending = [];
    this.pendingBytes = 0;
    if (this.fd >= 0) closeQuietly(this.fd);
    this.fd = -1;
    this.size = 0;
    this.readPos = 0;
  }
}
