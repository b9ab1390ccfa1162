/**
 * NativeListener: a listening TCP socket on the native loop, made by the addon (socket, SO_REUSEADDR, bind,
 * listen with a backlog), that hands each accepted connection over as a NativeTransport.
 *
 * Each readiness event accepts one bounded batch (ACCEPT_BATCH): a burst of connections cannot hold the loop
 * while established clients wait, and what is left in the backlog comes back on the next wake-up. When accept4
 * fails for want of descriptors or memory, the listening socket would stay readable and wake the loop at every
 * turn: accepting stops for RETRY_MS instead, and the backlog waits in the kernel.
 */
import { err, ok, type Result } from '../../lib/result.js';
import { E, errnoName, type LoopHandler, type NativeLoop } from './loop.js';
import type { NativeStreamOptions } from './stream.js';
import { NativeTransport } from './transport.js';

/** Connections accepted per readiness event. */
export const ACCEPT_BATCH = 64;
/** Pause of accepting after EMFILE/ENFILE/ENOBUFS/ENOMEM. */
export const RETRY_MS = 100;

/** Where and how to listen. */
export interface NativeListenOptions {
  /** A numeric IPv4 or IPv6 address ("0.0.0.0", "::", "127.0.0.1", "[::1]"); names are not resolved here. */
  readonly host: string;
  /** 0 for any free port (see `port` afterwards). */
  readonly port: number;
  /** listen(2)'s backlog (default 511, as Node's). */
  readonly backlog?: number;
  /** IPV6_V6ONLY for an IPv6 address (default false: "::" also takes IPv4, as Node's net does). */
  readonly ipv6Only?: boolean;
  /** Options of each accepted transport. */
  readonly transport?: NativeStreamOptions;
  /** Told of each failed accept4 by errno name, and whether accepting now pauses for RETRY_MS. */
  readonly onAcceptError?: (code: string, paused: boolean) => void;
}

/** A listening socket; `onConnection` receives every accepted transport, not yet bound. */
export class NativeListener implements LoopHandler {
  /** Connections accepted so far. */
  accepted = 0;
  /** accept4 failures so far (each also paused accepting when it was for want of resources). */
  acceptErrors = 0;

  private readonly out = new Int32Array(ACCEPT_BATCH);
  private closed = false;
  private retry: NodeJS.Timeout | null = null;

  private constructor(
    private readonly loop: NativeLoop,
    /** The listening descriptor. */
    readonly fd: number,
    private readonly gen: number,
    /** The bound address and port (the real port when 0 was asked). */
    readonly address: string,
    readonly port: number,
    private readonly opts: NativeListenOptions,
    private readonly onConnection: (t: NativeTransport) => void,
  ) {}

  /** Binds and listens; an error Result when it cannot: errno's name (EADDRINUSE), prefixed by the step that
   *  failed when it was not bind or listen ("epoll: ENOMEM"). */
  static listen(
    loop: NativeLoop,
    opts: NativeListenOptions,
    onConnection: (t: NativeTransport) => void,
  ): Result<NativeListener, string> {
    const host = opts.host.startsWith('[') && opts.host.endsWith(']') ? opts.host.slice(1, -1) : opts.host;
    const fd = loop.addon.listenTcp(host, opts.port, opts.backlog ?? 511, opts.ipv6Only ?? false);
    if (fd < 0) return err(errnoName(fd));
    return NativeListener.adopt(loop, fd, opts, onConnection);
  }

  /**
   * Accepts on a socket that is already listening (a worker's, inherited from the master: docs/ARCHITECTURE.md
   * "Worker processes"); it must be non-blocking, as listenTcp makes it, because every worker is woken for each
   * connection and all but one find the queue empty. `opts.port` and `opts.host` are not used. On failure the
   * descriptor is closed.
   */
  static adopt(
    loop: NativeLoop,
    fd: number,
    opts: NativeListenOptions,
    onConnection: (t: NativeTransport) => void,
  ): Result<NativeListener, string> {
    const a = loop.addon;
    const name = a.sockName(fd);
    if (typeof name === 'number') {
      a.close(fd, false);
      return err(`getsockname: ${errnoName(name)}`);
    }
    let listener: NativeListener | null = null;
    const handler: LoopHandler = { onEvents: () => listener?.onEvents() };
    const gen = loop.register(fd, a.constants.EPOLLIN, handler);
    if (gen < 0) {
      a.close(fd, false);
      return err(`epoll: ${errnoName(gen)}`);
    }
    listener = new NativeListener(loop, fd, gen, name[0], name[1], opts, onConnection);
    return ok(listener);
  }

  /** One accept batch; each new socket becomes a NativeTransport for `onConnection`. */
  onEvents(): void {
    if (this.closed) return;
    const n = this.loop.addon.accept(this.fd, this.out, ACCEPT_BATCH);
    if (n < 0) {
      if (n === E.AGAIN || n === E.INTR) return;
      this.acceptErrors++;
      // Anything but a want of resources (ECONNABORTED, EPERM from a firewall...) concerned one connection: the
      // next one may do.
      const scarce = n === E.MFILE || n === E.NFILE || n === E.NOBUFS || n === E.NOMEM;
      if (scarce) this.backOff();
      this.opts.onAcceptError?.(errnoName(n), scarce);
      return;
    }
    const out = this.out;
    let firstError: unknown = null;
    for (let i = 0; i < n; i++) {
      const fd = out[i] ?? -1;
      if (fd < 0) continue;
      this.accepted++;
      const t = new NativeTransport(this.loop, fd, this.opts.transport);
      try {
        this.onConnection(t);
      } catch (e) {
        // The other sockets of this batch are ours already: each still gets its owner before this is rethrown.
        firstError ??= e;
      }
    }
    if (firstError !== null) throw firstError instanceof Error ? firstError : new Error(JSON.stringify(firstError));
  }

  /** Stops accepting for RETRY_MS (EPOLLIN off): the kernel keeps the backlog meanwhile. */
  private backOff(): void {
    if (this.retry !== null) return;
    this.loop.modify(this.fd, this.gen, 0);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.closed) this.loop.modify(this.fd, this.gen, this.loop.addon.constants.EPOLLIN);
    }, RETRY_MS);
  }

  /** Closes the listening socket (established connections go on). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retry !== null) {
      clearTimeout(this.retry);
      this.retry = null;
    }
    this.loop.close(this.fd, this.gen, true);
  }
}
