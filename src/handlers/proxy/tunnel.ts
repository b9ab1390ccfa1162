/**
 * An upgraded proxied request (docs/ARCHITECTURE.md "Gateway"): after the upstream's 101 (RFC 9110 §15.2.2) the
 * client's tunnel and the upstream connection are joined, raw bytes relayed both ways until both sides are done.
 *
 * - Backpressure both ways: a write that returns false pauses the side the bytes came from until the other drains.
 * - A FIN is passed on (half-close) once what came before it is written; when both sides have sent theirs, the
 *   client connection closes after its queue. A side that closes (or fails) closes the other after its queue.
 * - No byte either way for `proxy_read_timeout` closes both (nginx's idle upgraded connection); the upstream
 *   leaving the client's bytes unread for `proxy_send_timeout` too. The client's own send_timeout is its
 *   connection's (while a write to it waits).
 */
import type { ProxyConfig } from '../../config/proxy.js';
import type { Outbound, OutboundEvents } from '../../server/transport.js';
import type { Tunnel, TunnelEvents } from '../exchange.js';
import { Deadline, type TimerFn } from './deadline.js';

/** The relay of one upgraded request; `clientEvents` goes to Exchange.upgrade(), start() follows. */
export class ProxyTunnel {
  private client: Tunnel | null = null;
  private clientEnded = false;
  private clientClosed = false;
  private upEnded = false;
  private upClosed = false;
  private readonly idle: Deadline;
  private readonly sendDl: Deadline;

  readonly clientEvents: TunnelEvents = {
    onData: (chunk) => {
      this.fromClient(chunk);
    },
    onEnd: () => {
      this.clientEnd();
    },
    onDrain: () => {
      this.idle.renew();
      if (!this.clientClosed) this.up.resume();
    },
    onClose: () => {
      this.clientGone();
    },
  };

  private readonly upEvents: OutboundEvents = {
    onConnect: () => undefined,
    onData: (chunk) => {
      this.fromUpstream(chunk);
    },
    onEnd: () => {
      this.upEnd();
    },
    onDrain: () => {
      this.sendDl.clear();
      this.idle.renew();
      this.client?.resume();
    },
    onClose: (error) => {
      this.upGone(error);
    },
  };

  constructor(
    private readonly up: Outbound,
    timer: TimerFn,
    private readonly cfg: ProxyConfig,
    private readonly log: (message: string) => void,
  ) {
    this.idle = new Deadline(timer, () => {
      this.timedOut('upstream timed out while proxying upgraded connection');
    });
    this.sendDl = new Deadline(timer, () => {
      this.timedOut('upstream timed out while sending to upstream in an upgraded connection');
    });
  }

  /** Joins the two ends; `fromUpstream`: bytes that came right behind the 101 head. */
  start(client: Tunnel, fromUpstream: Buffer): void {
    this.client = client;
    this.up.rebind(this.upEvents);
    this.idle.arm(this.cfg.readTimeout);
    if (fromUpstream.length > 0) this.fromUpstream(fromUpstream);
    if (client.early.length > 0) this.fromClient(client.early);
  }

  /** The switch was refused (the client is gone): the upstream connection is closed. */
  refuse(): void {
    this.upClosed = true;
    this.up.destroy();
  }

  private fromClient(chunk: Buffer): void {
    if (this.upClosed) return;
    this.idle.renew();
    if (this.up.write(chunk)) return;
    this.client?.pause();
    if (!this.sendDl.armed) this.sendDl.arm(this.cfg.sendTimeout);
  }

  private fromUpstream(chunk: Buffer): void {
    const c = this.client;
    if (c === null || this.clientClosed) return;
    this.idle.renew();
    if (!c.write(chunk)) this.up.pause();
  }

  private clientEnd(): void {
    this.clientEnded = true;
    if (this.upClosed) return;
    this.up.end();
    if (this.upEnded) this.client?.close();
  }

  private upEnd(): void {
    this.upEnded = true;
    if (this.clientClosed) return;
    if (this.clientEnded) this.client?.close();
    else this.client?.end();
  }

  /** The client connection closed: the upstream gets what is queued for it, then its end. */
  private clientGone(): void {
    this.clientClosed = true;
    if (this.upClosed) {
      this.settle();
      return;
    }
    if (this.up.writableLength === 0) this.up.destroy();
    else this.up.end(); // the idle deadline bounds the rest
  }

  private upGone(error: string | null): void {
    this.upClosed = true;
    this.sendDl.clear();
    if (error !== null && !this.clientClosed)
      this.log(`upstream connection failed (${error}) while proxying upgraded connection`);
    if (this.clientClosed) {
      this.settle();
      return;
    }
    this.client?.close(); // what the upstream sent before it went is delivered first
  }

  private timedOut(why: string): void {
    this.log(why);
    this.settle();
    this.upClosed = true;
    this.up.destroy();
    this.client?.destroy();
  }

  private settle(): void {
    this.idle.clear();
    this.sendDl.clear();
  }
}
