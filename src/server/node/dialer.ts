/**
 * Outbound connections on node:net (docs/ARCHITECTURE.md "Gateway"): the proxy's and FastCGI's connections to
 * their upstreams. Both engines use it: the socket is a libuv handle on the one event loop, like every other.
 */
import * as net from 'node:net';
import { errnoCode } from '../../lib/errno.js';
import type { DialTarget, Dialer, Outbound, OutboundEvents } from '../transport.js';

/** A net.Socket as an Outbound; its events go to whoever owns it now (rebind). */
class NodeOutbound implements Outbound {
  private error: string | null = null;

  constructor(
    private readonly socket: net.Socket,
    private events: OutboundEvents,
  ) {
    socket.on('connect', () => {
      socket.setNoDelay(true);
      this.events.onConnect();
    });
    socket.on('data', (chunk: Buffer) => {
      this.events.onData(chunk);
    });
    socket.on('end', () => {
      this.events.onEnd();
    });
    socket.on('drain', () => {
      this.events.onDrain();
    });
    socket.on('error', (e) => {
      this.error ??= errnoCode(e) || 'EIO';
    });
    socket.on('close', () => {
      this.events.onClose(this.error);
    });
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }
  write(data: Buffer): boolean {
    return this.socket.write(data);
  }
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
  end(): void {
    this.socket.end();
  }
  destroy(): void {
    this.socket.destroy();
  }
  rebind(events: OutboundEvents): void {
    this.events = events;
  }
}

/** The dialer of both engines. */
export class NodeDialer implements Dialer {
  dial(target: DialTarget, events: OutboundEvents): Outbound {
    // An IP literal never needs dns.lookup (the thread pool): the validator only accepts literals and unix paths.
    // Half-open allowed: the upstream's FIN ends only its side, so a tunnel can pass it on (every HTTP use of a
    // connection closes it on that FIN anyway).
    const socket =
      target.kind === 'tcp'
        ? net.connect({ host: target.host, port: target.port, allowHalfOpen: true })
        : net.connect({ path: target.path, allowHalfOpen: true });
    return new NodeOutbound(socket, events);
  }
}
