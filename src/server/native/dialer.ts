/**
 * Outbound connections on the native loop (docs/native-transport.md): the proxy's and FastCGI's connections to
 * their upstreams as descriptors of the same epoll set as the clients, with the same one-read-one-write rule
 * per wake-up, instead of libuv sockets and Node's streams.
 *
 * A connect(2) under way is a write that waits for EPOLLOUT: what the owner writes before it completes is queued
 * and goes out in the first write after it. The first EPOLLOUT or EPOLLERR ends it; SO_ERROR says how.
 */
import type { DialTarget, Dialer, Outbound, OutboundEvents } from '../transport.js';
import { errnoName, type NativeLoop } from './loop.js';
import { NativeStream } from './stream.js';

/** An outbound socket on the native loop; its events go to whoever owns it now (rebind). */
class NativeOutbound extends NativeStream implements Outbound {
  private connecting = true;
  /** The errno name of the failure that closed it, for onClose. */
  private error: string | null = null;

  constructor(
    loop: NativeLoop,
    fd: number,
    private events: OutboundEvents,
  ) {
    super(loop, fd, true);
    this.awaitWritable();
    if (this.register() < 0) this.fail('EMFILE');
  }

  rebind(events: OutboundEvents): void {
    this.events = events;
  }

  override onEvents(events: number): void {
    if (this.connecting && !this.destroyed) {
      this.connecting = false;
      const e = this.addon.sockError(this.fd);
      if (e < 0) {
        this.fail(errnoName(e));
        return;
      }
      this.events.onConnect();
    }
    super.onEvents(events);
  }

  /** A read or write failed, or EPOLLERR: the error is the socket's own when it has one. */
  protected override onFailure(): void {
    const e = this.destroyed ? 0 : this.addon.sockError(this.fd);
    this.fail(e < 0 ? errnoName(e) : this.connecting ? 'ECONNREFUSED' : 'ECONNRESET');
  }

  private fail(error: string): void {
    this.error ??= error;
    this.destroyNow();
  }

  protected emitData(chunk: Buffer): void {
    this.events.onData(chunk);
  }
  protected emitEnd(): void {
    this.events.onEnd();
  }
  protected emitDrain(): void {
    this.events.onDrain();
  }
  protected emitClose(): void {
    this.events.onClose(this.error);
  }
  protected finishWriting(): void {
    this.shutdownWrite();
  }
}

/** A connection that failed before it had a descriptor: its onClose comes on the loop, as a socket's would. */
class FailedOutbound implements Outbound {
  readonly writableLength = 0;

  constructor(
    loop: NativeLoop,
    private events: OutboundEvents,
    error: string,
  ) {
    loop.defer({
      deferQueued: false,
      runDeferred: () => {
        this.events.onClose(error);
      },
    });
  }
  write(): boolean {
    return true;
  }
  pause(): void {}
  resume(): void {}
  end(): void {}
  destroy(): void {}
  rebind(events: OutboundEvents): void {
    this.events = events;
  }
}

/** The native engine's dialer: IP literals and unix paths only (the validator's rule: no dns.lookup). */
export class NativeDialer implements Dialer {
  constructor(private readonly loop: NativeLoop) {}

  dial(target: DialTarget, events: OutboundEvents): Outbound {
    const a = this.loop.addon;
    const fd = target.kind === 'tcp' ? a.connectTcp(target.host, target.port) : a.connectUnix(target.path);
    if (fd < 0) return new FailedOutbound(this.loop, events, errnoName(fd));
    return new NativeOutbound(this.loop, fd, events);
  }
}
