/**
 * The request body on its way to a script: spooled to an unlinked file first for a chunked body (the script needs
 * a true CONTENT_LENGTH), or piped to its stdin as it arrives, paced by the pipe.
 */
import type { PipeWriter } from '../../server/transport.js';
import { appendAll, closeQuietly, openBodySpool, type BodySpool } from './spool.js';

/** One script's input. */
export class ScriptInput {
  private spool: BodySpool | null = null;
  private pipe: PipeWriter | null = null;
  /** The pipe: open, full (the body waits for its drain), or gone (the script stopped reading). */
  private state: 'open' | 'full' | 'gone' = 'gone';

  /** Spools the body to a file (throws fs errors). */
  startSpool(): void {
    this.spool = openBodySpool();
  }

  /** True while the body goes to a spool. */
  get spooling(): boolean {
    return this.spool !== null;
  }

  /** The complete spool, for the script's stdin (its read descriptor and size); the input forgets it. The caller
   *  closes both descriptors once the script holds its own copy. */
  takeSpool(): BodySpool | null {
    const s = this.spool;
    this.spool = null;
    return s;
  }

  /** Pipes the body to the script's stdin. */
  attach(pipe: PipeWriter | null): void {
    this.pipe = pipe;
    this.state = pipe === null ? 'gone' : 'open';
  }

  /** A chunk of the body; false when the pipe is full (wait for drained()). Throws when the spool cannot be
   *  written. What the script no longer reads is dropped. */
  data(chunk: Buffer): boolean {
    const spool = this.spool;
    if (spool !== null) {
      appendAll(spool.wfd, chunk);
      spool.size += chunk.length;
      return true;
    }
    if (this.state !== 'open' || this.pipe === null) return true;
    if (this.pipe.write(Buffer.from(chunk))) return true; // copied: the pipe may queue it
    this.state = 'full';
    return false;
  }

  /** The pipe drained, or closed (EPIPE: a script may exit without reading its input; that is not an error).
   *  True when the body waited and may go on. */
  drained(): boolean {
    if (this.state === 'full') {
      this.state = 'open';
      return true;
    }
    this.state = 'gone';
    return false;
  }

  /** The body is complete: the script reads EOF. */
  end(): void {
    this.pipe?.end();
  }

  /** Releases a spool that will not be used. */
  close(): void {
    const s = this.takeSpool();
    if (s === null) return;
    closeQuietly(s.wfd);
    closeQuietly(s.rfd);
  }
}
