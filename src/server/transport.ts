/**
 * The seams between the HTTP core and the operating system (docs/ARCHITECTURE.md "Transports").
 *
 * A connection talks to a Transport, never to `node:net`: the portable implementation wraps a net.Socket (or a
 * tls.TLSSocket), the native one (native/, Linux) drives a socket descriptor from its own epoll set. CGI starts
 * scripts through a Launcher the same way: `node:child_process` or the native posix_spawn.
 *
 * The rules every implementation keeps:
 * - Events are delivered on the event loop, never re-entrantly from inside a call the connection made, except
 *   `onDrain`, which may follow a write at once only through the loop (never from inside `write`).
 * - A chunk given to `onData` belongs to the receiver (it may keep it).
 * - After `onClose` no other event arrives, and every call is a no-op.
 */
import type { Result } from '../lib/result.js';

/** What a transport reports to its owner (a connection). */
export interface TransportEvents {
  /** Bytes arrived from the peer. */
  onData(chunk: Buffer): void;
  /** The peer ended its side (FIN); writing may go on. */
  onEnd(): void;
  /** The write queue emptied after a write returned false (or a sendFile took less than asked). */
  onDrain(): void;
  /** The transport is closed, by either side or by an error; nothing more will happen. */
  onClose(): void;
}

/** One accepted stream connection. */
export interface Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The local address the peer connected to (for virtual hosts on a wildcard listener). */
  readonly localAddress: string;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly writableLength: number;
  /** True when tryWrite() reaches the kernel directly (a socket with a descriptor). */
  readonly canTryWrite: boolean;
  /** True when sendFile() is available (the native transport). */
  readonly canSendFile: boolean;
  /** The connection speaks TLS (node:tls; docs/ARCHITECTURE.md "TLS"). */
  readonly secure: boolean;
  /** The server name the TLS client sent (SNI), lower case; null without TLS or when it sent none. */
  readonly serverName: string | null;
  /** Plain-text bytes arrived on a TLS listener: the request is answered 400 and the connection closed. */
  readonly plainOnTls: boolean;
  /** Starts delivering events to `events` (called once, right after accept). */
  bind(events: TransportEvents): void;
  /**
   * Queues `data`; false when the queue is past its high-water mark: wait for onDrain before writing more.
   * `onWritten`, if given, runs once these bytes have reached the kernel (never if the transport closes first).
   */
  write(data: Buffer, onWritten?: () => void): boolean;
  /**
   * Writes `buf[0, length)` straight to the kernel, bypassing the queue, which must be empty: returns the bytes
   * taken now (0 when the send buffer is full), or -1 when the connection is broken (onClose follows). The caller
   * keeps `buf`; nothing of it is retained. Only with `canTryWrite`.
   */
  tryWrite(buf: Buffer, length: number): number;
  /** Queues several buffers as one write (writev where it exists); same result as write(). */
  writev(chunks: readonly Buffer[]): boolean;
  /**
   * Sends up to `length` bytes of the open file `fd` from `offset` straight from the kernel (sendfile(2)); only
   * with `canSendFile`. Returns the bytes sent now (0..length); fewer than asked means the socket is full, or the
   * transport cannot send yet (bytes still queued, or this wake-up already wrote), and onDrain follows: call again
   * from there. A negative value is -errno.
   */
  sendFile(fd: number, offset: number, length: number): number;
  /** Stops delivering onData until resume() (backpressure on the peer). */
  pause(): void;
  resume(): void;
  /** TCP_NODELAY. */
  setNoDelay(on: boolean): void;
  /** Half-closes (FIN) once everything queued is written; reading goes on. */
  end(): void;
  /** Closes once everything queued is written. */
  closeAfterWrite(): void;
  /** Closes at once, discarding anything queued. */
  destroy(): void;
}

/** The writing end of a child's pipe (its stdin). */
export interface PipeWriter {
  /** False when past the high-water mark: wait for the onDrain given to the launcher. */
  write(data: Buffer): boolean;
  /** Closes the pipe once everything queued is written (the child reads EOF). */
  end(): void;
  destroy(): void;
}

/** The reading end of a child's pipe (its stdout or stderr). */
export interface PipeReader {
  pause(): void;
  resume(): void;
  destroy(): void;
}

/** What a launched child reports. */
export interface ChildEvents {
  /** A chunk of stdout (owned by the receiver). */
  onStdout(chunk: Buffer): void;
  /** stdout reached EOF. */
  onStdoutEnd(): void;
  /** A chunk of stderr. */
  onStderr(chunk: Buffer): void;
  onStderrEnd(): void;
  /** stdin can take more after a write returned false; or stdin closed because the child stopped reading. */
  onStdinDrain(): void;
  /** The child could not be started after all (e.g. EMFILE, ENOENT of the interpreter), with the reason. */
  onSpawnError(reason: string): void;
  /** The child exited (code, or the signal that killed it); its pipes may still hold output. */
  onExit(code: number | null, signal: string | null): void;
  /** The child exited and every pipe is closed: it is reaped, nothing more will happen. */
  onClose(): void;
}

/** How to start a child. */
export interface LaunchSpec {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The whole environment. */
  readonly env: Readonly<Record<string, string>>;
  /** stdin: a pipe, /dev/null, or an open descriptor the child gets a copy of (the caller keeps its own). */
  readonly stdin: 'pipe' | 'null' | number;
}

/** A running child, in its own process group. */
export interface Child {
  readonly pid: number;
  /** Null unless `stdin: 'pipe'`. */
  readonly stdin: PipeWriter | null;
  readonly stdout: PipeReader;
  readonly stderr: PipeReader;
  /** Sends `signal` to the child's whole process group, also after the child closed (a no-op once the group is
   *  empty). */
  killGroup(signal: 'SIGTERM' | 'SIGKILL'): void;
}

/** Starts children. Never throws: a failure at once is an error Result, a later one arrives as onSpawnError. */
export interface Launcher {
  launch(spec: LaunchSpec, events: ChildEvents): Result<Child, string>;
}

/** Where an outbound connection goes: a TCP address, or a unix-domain socket path. */
export type DialTarget =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/** What an outbound connection reports to its owner (a proxy or FastCGI run). */
export interface OutboundEvents {
  /** The connection is established; writes queued before it are being sent. */
  onConnect(): void;
  onData(chunk: Buffer): void;
  /** The peer ended its side (FIN). */
  onEnd(): void;
  /** The write queue emptied after a write returned false. */
  onDrain(): void;
  /** Closed, by either side; `error` is the error code (ECONNREFUSED, ECONNRESET...) when it failed. */
  onClose(error: string | null): void;
}

/** One outbound stream connection (to an upstream server). Same rules as Transport. */
export interface Outbound {
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly writableLength: number;
  /** Queues `data`; false when past the high-water mark: wait for onDrain. */
  write(data: Buffer): boolean;
  pause(): void;
  resume(): void;
  /** Half-closes (FIN) once everything queued is written. */
  end(): void;
  /** Closes at once, discarding anything queued. */
  destroy(): void;
  /** Hands the connection to a new owner (a keep-alive pool, then the next request). */
  rebind(events: OutboundEvents): void;
}

/** Opens outbound connections. Never throws: a failure arrives as onClose(error). */
export interface Dialer {
  dial(target: DialTarget, events: OutboundEvents): Outbound;
}
