/**
 * NativeTransport: one accepted TCP connection driven from the native epoll set (see stream.ts for what one
 * wake-up may do). It implements the Transport seam of src/server/transport.ts, so a Connection can use it in
 * place of a net.Socket.
 */
import { plainAddress } from '../../router/vhost.js';
import type { Transport, TransportEvents } from '../transport.js';
import type { NativeLoop } from './loop.js';
import { NativeStream, type NativeStreamOptions } from './stream.js';

/** An accepted socket on the native loop. */
export class NativeTransport extends NativeStream implements Transport {
  /** Always true: sendFile() is sendfile(2). */
  readonly canSendFile = true;
  /** Plain TCP only: TLS listeners are always node:tls ones (docs/ARCHITECTURE.md "TLS"). */
  readonly secure = false;
  readonly serverName = null;
  readonly plainOnTls = false;
  /** File bodies go out with sendfile(2) instead (see ResponseWriter). */
  readonly canTryWrite = false;

  private events: TransportEvents | null = null;
  private remote: [string, number] | null = null;
  private local: [string, number] | null = null;

  /** Wraps an accepted, non-blocking, close-on-exec socket `fd` (NativeListener makes them). */
  constructor(loop: NativeLoop, fd: number, options: NativeStreamOptions = {}) {
    super(loop, fd, true, options);
  }

  /** The peer's address ("" once the socket is gone): getpeername(2) on first use, then kept. */
  get remoteAddress(): string {
    return this.peer()[0];
  }
  get remotePort(): number {
    return this.peer()[1];
  }
  /** The local address the peer connected to. */
  get localAddress(): string {
    return this.self()[0];
  }
  /** The local port the peer connected to. */
  get localPort(): number {
    return this.self()[1];
  }

  // Addresses cost a system call each: looked up only when something needs them, as connection.ts does today.
  private peer(): [string, number] {
    if (this.remote === null) {
      const r = this.destroyed ? -1 : this.addon.peerName(this.fd);
      if (typeof r === 'number') return ['', 0];
      // An IPv4 peer of a dual-stack "::" socket is ::ffff:a.b.c.d; logs, CGI and vhosts want a.b.c.d.
      this.remote = [plainAddress(r[0]), r[1]];
    }
    return this.remote;
  }
  private self(): [string, number] {
    if (this.local === null) {
      const r = this.destroyed ? -1 : this.addon.sockName(this.fd);
      if (typeof r === 'number') return ['', 0];
      this.local = [plainAddress(r[0]), r[1]];
    }
    return this.local;
  }

  /** Starts delivering events to `events`; a socket that cannot join the epoll set is closed (onClose follows). */
  bind(events: TransportEvents): void {
    if (this.events !== null) return;
    this.events = events;
    if (this.register() < 0) this.destroyNow();
  }

  /** See Transport.sendFile; also 0 (onDrain follows) when this wake-up already wrote or bytes are queued. */
  sendFile(fd: number, offset: number, length: number): number {
    return this.sendFileNow(fd, offset, length);
  }

  /** Not available here: sendFile() is the direct path. */
  tryWrite(): number {
    return -1;
  }

  /** TCP_NODELAY. */
  setNoDelay(on: boolean): void {
    if (!this.destroyed) this.addon.setNoDelay(this.fd, on);
  }

  protected emitData(chunk: Buffer): void {
    this.events?.onData(chunk);
  }
  protected emitEnd(): void {
    this.events?.onEnd();
  }
  protected emitDrain(): void {
    this.events?.onDrain();
  }
  protected emitClose(): void {
    const ev = this.events;
    this.events = null;
    ev?.onClose();
  }
  protected finishWriting(): void {
    this.shutdownWrite();
  }
}
