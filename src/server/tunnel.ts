/**
 * The client end of a tunnel (docs/ARCHITECTURE.md "The connection"): once a 101 is written (RFC 9110 §7.8) the
 * connection stops speaking HTTP and its state 'tunnel' hands raw bytes to the handler through this, and the
 * handler's writes to the transport. The handler never sees the transport itself.
 */
import type { Tunnel, TunnelEvents } from '../handlers/exchange.js';
import type { Transport } from './transport.js';

/** What a tunnel needs from its connection. */
export interface TunnelOwner {
  readonly transport: Transport;
  /** A write waits for the client: its send timeout runs until onDrain. */
  blocked(): void;
  pauseReading(): void;
  /** Reads again (also after the connection paused for too many bytes behind the head). */
  readAgain(): void;
  destroy(): void;
}

/** One connection's tunnel. */
export class ClientTunnel implements Tunnel {
  /** Bytes written to the client after the 101 head (nginx's $body_bytes_sent of an upgraded request). */
  bytesOut = 0;

  constructor(
    private readonly owner: TunnelOwner,
    readonly events: TunnelEvents,
    readonly early: Buffer,
    /** Bytes of the 101 head. */
    readonly headBytes: number,
  ) {}

  write(data: Buffer): boolean {
    this.bytesOut += data.length;
    if (this.owner.transport.write(data)) return true;
    this.owner.blocked();
    return false;
  }
  pause(): void {
    this.owner.pauseReading();
  }
  resume(): void {
    this.owner.readAgain();
  }
  end(): void {
    this.owner.transport.end();
  }
  close(): void {
    this.owner.transport.closeAfterWrite();
  }
  destroy(): void {
    this.owner.destroy();
  }
}
