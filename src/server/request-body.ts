/**
 * Reading one request body (RFC 9112 §6.2-§7.1): a Content-Length body or a chunked one, within `body_limit`, into
 * the handler's receiver (or discarded), paused while the receiver cannot take more.
 */
import { ChunkedDecoder } from '../http/chunked.js';
import type { ParseError, RequestHead } from '../http/request.js';
import type { BodyReceiver } from '../handlers/exchange.js';

/** Reads and drops a body nobody wants (so the connection can be kept alive). */
export const DISCARD: BodyReceiver = { data: () => true, end: () => undefined, abort: () => undefined };

/** What one feed() achieved. */
export type BodyProgress =
  /** Everything given was consumed; more input is needed. */
  | 'more'
  /** The receiver asked to wait: call resume() before feeding again. */
  | 'paused'
  /** The body is complete (bytes after `consumed` belong to the next request); the receiver got end(). */
  | 'done'
  /** Bad framing, or over the limit: answer with its status and close. The receiver got abort(). */
  | ParseError;

const E_OVER_LIMIT: ParseError = { status: 413, reason: 'chunked body over body_limit' };

/** One request body being read. */
export class RequestBody {
  /** Where the body goes; DISCARD until a handler asks for it. */
  receiver: BodyReceiver = DISCARD;
  /** The offset feed() consumed up to. */
  consumed = 0;
  private paused = false;
  private finished = false;
  /** Content-Length bytes still to come (chunked: unused). */
  private left: number;
  private readonly chunked: ChunkedDecoder | null;

  constructor(
    head: RequestHead,
    /** body_limit in bytes; 0 = unlimited. A declared length over it was refused before reading. */
    private readonly limit: number,
  ) {
    this.left = head.chunked ? 0 : Math.max(0, head.contentLength);
    this.chunked = head.chunked ? new ChunkedDecoder() : null;
  }

  /** True once the body is complete, failed or aborted. */
  get over(): boolean {
    return this.finished;
  }

  /** True while the receiver waits (see resume). */
  get waiting(): boolean {
    return this.paused;
  }

  /** Feeds `buf[off, end)`; `consumed` tells how far it got. */
  feed(buf: Buffer, off: number, end: number): BodyProgress {
    if (this.finished) {
      this.consumed = off;
      return 'done';
    }
    if (this.paused) {
      this.consumed = off;
      return 'paused';
    }
    const receiver = this.receiver;
    const dec = this.chunked;
    if (dec !== null) {
      // What the decoder hands out in this call still goes to the receiver; reading stops after it.
      this.consumed = dec.decode(buf, off, end, (chunk) => {
        if (!receiver.data(chunk)) this.paused = true;
      });
      const error = dec.error ?? (this.limit > 0 && dec.received > this.limit ? E_OVER_LIMIT : null);
      if (error !== null) {
        this.abort();
        return error;
      }
      if (dec.done) return this.complete();
      return this.waiting ? 'paused' : 'more'; // the getter: the callback may have paused it
    }
    const n = Math.min(this.left, end - off);
    this.consumed = off + n;
    this.left -= n;
    if (!receiver.data(buf.subarray(off, off + n))) this.paused = true;
    if (this.left === 0) return this.complete();
    return this.paused ? 'paused' : 'more';
  }

  /** The receiver can take more again. */
  resume(): void {
    this.paused = false;
  }

  /** The body will not complete (client gone, timeout, answered early): the receiver discards what it has. */
  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.paused = false;
    this.receiver.abort();
  }

  private complete(): 'done' {
    this.finished = true;
    this.paused = false;
    this.receiver.end();
    return 'done';
  }
}
