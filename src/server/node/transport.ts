/**
 * The portable transport: a net.Socket (or tls.TLSSocket) behind the Transport interface. Event handlers are shared
 * functions, not closures, so an idle connection costs as little memory as possible.
 */
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { errnoCode } from '../../lib/errno.js';
import { plainAddress } from '../../router/vhost.js';
import type { TlsChoice } from '../tls-sites.js';
import type { Transport, TransportEvents } from '../transport.js';

/** Where a socket keeps its transport, for the shared handlers. */
const OWNER = Symbol('transport');
interface OwnedSocket extends net.Socket {
  [OWNER]: NodeTransport;
}
const owner = (socket: net.Socket): NodeTransport => (socket as OwnedSocket)[OWNER];

function onData(this: net.Socket, chunk: Buffer): void {
  owner(this).events.onData(chunk);
}
function onEnd(this: net.Socket): void {
  owner(this).events.onEnd();
}
function onDrain(this: net.Socket): void {
  owner(this).events.onDrain();
}
/** ECONNRESET, EPIPE...: 'close' follows and cleans up. */
function onError(): void {
  // nothing: see onClose
}
function onClose(this: net.Socket): void {
  owner(this).events.onClose();
}
/** The first bytes on a TLS listener: a handshake, or someone speaking plain HTTP to it. */
function onFirstData(this: net.Socket, chunk: Buffer): void {
  owner(this).started(chunk);
}

/** The first byte of a TLS record carrying a handshake (RFC 8446 §5.1, ContentType handshake(22)). */
const HANDSHAKE = 0x16;
/** ALPN (RFC 7301): the one protocol we speak. */
const ALPN = ['http/1.1'];

/** How a TLS listener's transport finds its certificates once the connection's local address is known. */
export type TlsLookup = (t: NodeTransport) => TlsChoice | null;

/** The listeners bind() adds besides 'data', removed from a socket when a TLSSocket takes it over. */
const SHARED: readonly (readonly [string, (this: net.Socket) => void])[] = [
  ['end', onEnd],
  ['drain', onDrain],
  ['error', onError],
  ['close', onClose],
];

const UNBOUND: TransportEvents = {
  onData: () => undefined,
  onEnd: () => undefined,
  onDrain: () => undefined,
  onClose: () => undefined,
};

/** ENOSYS, for the calls this transport does not have. */
const ENOSYS = 38;

/** The descriptor of a socket (libuv's handle exposes it on Unix), or -1 (a TLS socket has none of its own). */
function descriptorOf(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/** A net.Socket as a Transport. */
export class NodeTransport implements Transport {
  events: TransportEvents = UNBOUND;
  readonly canSendFile = false;
  // Addresses cost a system call each (getpeername/getsockname): looked up only when something needs them.
  private remote: string | null = null;
  private local: string | null = null;
  private port: number | undefined = undefined;
  private fd: number | undefined = undefined;
  /** True once the TLS handshake has begun on this connection: bytes go through OpenSSL, never write(2). */
  secure = false;
  private tlsSocket: tls.TLSSocket | null = null;
  /** Plain bytes arrived on a TLS listener (nginx's 497): the connection answers 400 and closes. */
  plainOnTls = false;

  /** `tlsLookup`: set on a TLS listener, where the socket is wrapped in a TLSSocket on its first bytes. */
  constructor(
    public socket: net.Socket,
    private readonly tlsLookup: TlsLookup | null = null,
  ) {
    (socket as OwnedSocket)[OWNER] = this;
  }

  /** The name the client asked for in its ClientHello (SNI), lower case; null without TLS or without a name. */
  get serverName(): string | null {
    const name = this.tlsSocket?.servername;
    return typeof name === 'string' && name !== '' ? name.toLowerCase() : null;
  }

  bind(events: TransportEvents): void {
    this.events = events;
    this.listen(this.socket, this.tlsLookup !== null ? onFirstData : onData);
  }

  private listen(s: net.Socket, data: (this: net.Socket, chunk: Buffer) => void): void {
    s.on('data', data);
    for (const [event, fn] of SHARED) s.on(event, fn);
  }

  get remoteAddress(): string {
    return (this.remote ??= plainAddress(this.socket.remoteAddress ?? ''));
  }
  get remotePort(): number {
    return (this.port ??= this.socket.remotePort ?? 0);
  }
  get localAddress(): string {
    return (this.local ??= plainAddress(this.socket.localAddress ?? ''));
  }
  get writableLength(): number {
    return this.socket.writableLength;
  }
  get canTryWrite(): boolean {
    return (this.fd ??= descriptorOf(this.socket)) >= 0;
  }

  /**
   * The first bytes on a TLS listener. A handshake: the socket is handed to a TLSSocket (the bytes put back for it)
   * and the connection hears from that from now on, so a stalled handshake is a silent head and runs into
   * client_header_timeout. Anything else is taken as plain HTTP, delivered as such and flagged `plainOnTls`.
   */
  started(chunk: Buffer): void {
    const raw = this.socket;
    raw.removeListener('data', onFirstData);
    if (chunk[0] !== HANDSHAKE) {
      this.plainOnTls = true;
      raw.on('data', onData);
      this.events.onData(chunk);
      return;
    }
    const choice = this.tlsLookup?.(this) ?? null;
    if (choice === null) {
      raw.destroy();
      return;
    }
    // Addresses are read from the kernel before the TLSSocket takes over the handle.
    this.remote ??= plainAddress(raw.remoteAddress ?? '');
    this.local ??= plainAddress(raw.localAddress ?? '');
    this.port ??= raw.remotePort ?? 0;
    raw.pause();
    raw.unshift(chunk);
    for (const [event, fn] of SHARED) raw.removeListener(event, fn);
    const s = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: choice.context,
      SNICallback: choice.sni,
      ALPNProtocols: ALPN,
    });
    (s as net.Socket as OwnedSocket)[OWNER] = this;
    this.socket = s;
    this.tlsSocket = s;
    this.secure = true;
    this.fd = -1; // the descriptor carries ciphertext: every write goes through OpenSSL
    this.listen(s, onData);
  }

  write(data: Buffer, onWritten?: () => void): boolean {
    if (onWritten === undefined) return this.socket.write(data);
    return this.socket.write(data, (err) => {
      if (err == null) onWritten();
    });
  }

  writev(chunks: readonly Buffer[]): boolean {
    const s = this.socket;
    s.cork();
    let ok = true;
    for (const c of chunks) ok = s.write(c);
    s.uncork();
    return ok;
  }

  tryWrite(buf: Buffer, length: number): number {
    // A destroyed socket's descriptor is closed, and its number may already be another connection's.
    const fd = this.socket.destroyed ? -1 : (this.fd ??= descriptorOf(this.socket));
    if (fd < 0) return -1;
    try {
      // write(2) on the non-blocking socket: the kernel copies what it takes.
      return fs.writeSync(fd, buf, 0, length);
    } catch (err) {
      const code = errnoCode(err);
      return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR' ? 0 : -1;
    }
  }

  sendFile(): number {
    return -ENOSYS;
  }

  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
  setNoDelay(on: boolean): void {
    this.socket.setNoDelay(on);
  }
  end(): void {
    this.socket.end();
  }
  closeAfterWrite(): void {
    if (this.socket.writableLength === 0) this.socket.destroy();
    else this.socket.destroySoon();
  }
  destroy(): void {
    this.socket.destroy();
  }
}
