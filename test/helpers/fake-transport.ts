/**
 * A Transport without a socket, for driving a Connection (or a ResponseWriter) in-process: it records every call
 * the connection makes, lets the test deliver the events a socket would (onData, onEnd, onDrain, onClose), and can
 * be told to refuse writes (write() returning false, tryWrite() taking only part of a chunk) to exercise
 * backpressure. Nothing happens by itself: the kernel "takes" queued bytes only when the test calls drain() or
 * flush(), and completion callbacks run then, never from inside write().
 */
import type { Transport, TransportEvents } from '../../src/server/transport.js';
import { tryParse, type RawResponse } from './http.js';

/** One call the owner made on the transport, in order. */
export type TransportCall =
  | { readonly op: 'write'; readonly data: Buffer; readonly withCallback: boolean; readonly accepted: boolean }
  | { readonly op: 'writev'; readonly data: Buffer; readonly chunks: number; readonly accepted: boolean }
  | { readonly op: 'tryWrite'; readonly asked: number; readonly took: number }
  | { readonly op: 'sendFile'; readonly fd: number; readonly offset: number; readonly length: number }
  | { readonly op: 'end' | 'closeAfterWrite' | 'destroy' | 'pause' | 'resume' }
  | { readonly op: 'setNoDelay'; readonly on: boolean };

export interface FakeTransportOptions {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  /** Whether tryWrite() is offered (a socket with a descriptor); default false (writes go through the queue). */
  readonly canTryWrite?: boolean;
}

/** A scripted transport. */
export class FakeTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  canTryWrite: boolean;
  readonly canSendFile = false;
  secure = false;
  serverName: string | null = null;
  plainOnTls = false;

  /** Every call, in order. */
  readonly calls: TransportCall[] = [];
  /** write()/writev() answer false (the queue is past its high-water mark); the bytes are queued anyway. */
  full = false;
  /** Bytes the kernel's send buffer takes through tryWrite() from now on (each call takes what is left, up to
   *  it); Infinity: everything; set it to -1 to make tryWrite() report a broken connection. */
  tryWriteRoom = Infinity;

  private events: TransportEvents | null = null;
  /** Bytes accepted by write()/writev() and not yet taken by the "kernel" (see drain/flush). */
  private queued = 0;
  /** Completion callbacks of queued writes, run by flush(). */
  private callbacks: (() => void)[] = [];
  /** A write returned false since the last onDrain: drain() delivers one. */
  private owesDrain = false;
  private wire: Buffer[] = [];

  paused = false;
  ended = false;
  closedAfterWrite = false;
  destroyed = false;
  /** onClose was delivered: the transport is dead and every call is a no-op. */
  closed = false;
  noDelay = false;

  constructor(opts: FakeTransportOptions = {}) {
    this.remoteAddress = opts.remoteAddress ?? '127.0.0.1';
    this.remotePort = opts.remotePort ?? 40000;
    this.localAddress = opts.localAddress ?? '127.0.0.1';
    this.canTryWrite = opts.canTryWrite ?? false;
  }

  // ─── Transport ──

  get writableLength(): number {
    return this.queued;
  }

  bind(events: TransportEvents): void {
    if (this.events !== null) throw new Error('FakeTransport: bind() called twice');
    this.events = events;
  }

  write(data: Buffer, onWritten?: () => void): boolean {
    if (this.dead) return false;
    const accepted = !this.full;
    this.calls.push({ op: 'write', data: Buffer.from(data), withCallback: onWritten !== undefined, accepted });
    this.enqueue(data);
    if (onWritten !== undefined) this.callbacks.push(onWritten);
    return this.answer(accepted);
  }

  writev(chunks: readonly Buffer[]): boolean {
    if (this.dead) return false;
    const data = Buffer.concat(chunks);
    const accepted = !this.full;
    this.calls.push({ op: 'writev', data, chunks: chunks.length, accepted });
    this.enqueue(data);
    return this.answer(accepted);
  }

  tryWrite(buf: Buffer, length: number): number {
    if (this.dead || this.tryWriteRoom < 0) {
      this.calls.push({ op: 'tryWrite', asked: length, took: -1 });
      return -1;
    }
    if (!this.canTryWrite) throw new Error('FakeTransport: tryWrite() without canTryWrite');
    if (this.queued !== 0) throw new Error('FakeTransport: tryWrite() with bytes still queued');
    const took = Math.min(length, this.tryWriteRoom);
    this.tryWriteRoom -= took;
    this.calls.push({ op: 'tryWrite', asked: length, took });
    if (took > 0) this.wire.push(Buffer.from(buf.subarray(0, took)));
    return took;
  }

  sendFile(fd: number, offset: number, length: number): number {
    this.calls.push({ op: 'sendFile', fd, offset, length });
    return -38; // ENOSYS, as the portable transport
  }

  pause(): void {
    if (this.dead) return;
    this.calls.push({ op: 'pause' });
    this.paused = true;
  }

  resume(): void {
    if (this.dead) return;
    this.calls.push({ op: 'resume' });
    this.paused = false;
  }

  setNoDelay(on: boolean): void {
    if (this.dead) return;
    this.calls.push({ op: 'setNoDelay', on });
    this.noDelay = on;
  }

  end(): void {
    if (this.dead) return;
    this.calls.push({ op: 'end' });
    this.ended = true;
  }

  closeAfterWrite(): void {
    if (this.dead) return;
    this.calls.push({ op: 'closeAfterWrite' });
    this.closedAfterWrite = true;
  }

  destroy(): void {
    if (this.dead) return;
    this.calls.push({ op: 'destroy' });
    this.destroyed = true;
    this.callbacks = []; // "never if the transport closes first"
    this.queued = 0;
  }

  // ─── What the test does: the peer's side and the kernel's ──

  /** The peer sent bytes (latin1 for a string). */
  deliverData(data: string | Buffer): void {
    if (this.closed) return;
    this.bound.onData(typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data));
  }

  /** The peer sent FIN. */
  deliverEnd(): void {
    if (this.closed) return;
    this.bound.onEnd();
  }

  /** The transport is closed (the peer reset it, or the close we asked for happened). */
  deliverClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.callbacks = [];
    this.queued = 0;
    this.bound.onClose();
  }

  /** The kernel took everything queued so far: the completion callbacks waiting now run, in order (what they
   *  write is left for the next flush). No onDrain. */
  flush(): void {
    if (this.dead) return;
    this.queued = 0;
    const waiting = this.callbacks;
    this.callbacks = [];
    for (const cb of waiting) {
      if (this.dead) return;
      cb();
    }
  }

  /** flush() until no completion callback is left (a bounded number of rounds). */
  flushAll(): void {
    for (let round = 0; round < 100_000 && this.callbacks.length > 0 && !this.dead; round++) this.flush();
  }

  /** The queue emptied: flush(), then onDrain if a write had returned false since the last one. */
  drain(): void {
    if (this.dead) return;
    this.full = false;
    this.flush();
    if (!this.owesDrain || this.dead) return;
    this.owesDrain = false;
    this.bound.onDrain();
  }

  /** Completion callbacks waiting for flush(). */
  get pendingCallbacks(): number {
    return this.callbacks.length;
  }

  /** Every byte handed over so far (queued or taken), in wire order. */
  output(): Buffer {
    return Buffer.concat(this.wire);
  }

  /** output() as latin1 text. */
  text(): string {
    return this.output().toString('latin1');
  }

  /** The operations called, by name (e.g. ['setNoDelay', 'write', 'end']). */
  ops(): string[] {
    return this.calls.map((c) => c.op);
  }

  /** Forgets the recorded calls and output (to look at what happens next). */
  clearRecords(): void {
    this.calls.length = 0;
    this.wire = [];
  }

  private get dead(): boolean {
    return this.destroyed || this.closed;
  }

  private get bound(): TransportEvents {
    if (this.events === null) throw new Error('FakeTransport: no owner bound');
    return this.events;
  }

  private enqueue(data: Buffer): void {
    if (data.length > 0) this.wire.push(Buffer.from(data));
    this.queued += data.length;
    // With room in the "kernel" and no completion waiting, the bytes leave at once, as a socket's write does.
    if (!this.full && this.callbacks.length === 0) this.queued = 0;
  }

  private answer(accepted: boolean): boolean {
    if (!accepted) this.owesDrain = true;
    return accepted;
  }
}

/**
 * The responses in `bytes`, in order; `heads[i]` true when the i-th answers a HEAD (no body follows). `ended`: the
 * connection is over, so a close-delimited body runs to the end. Throws when bytes are left that are not a complete
 * response.
 */
export function parseResponses(
  bytes: Buffer,
  opts: { heads?: readonly boolean[]; ended?: boolean } = {},
): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const r = tryParse(rest, opts.heads?.[out.length] === true, opts.ended === true);
    if (r === null)
      throw new Error(
        `incomplete response after ${out.length}: ${JSON.stringify(rest.toString('latin1').slice(0, 200))}`,
      );
    out.push(r.res);
    rest = rest.subarray(r.used);
  }
  return out;
}
