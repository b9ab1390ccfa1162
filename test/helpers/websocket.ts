/**
 * WebSocket for the tunnel tests (RFC 6455), test side only: a minimal frame codec, an echo backend on node:http's
 * 'upgrade' event, and a client on a raw socket (plain or TLS) that sends exact bytes and decodes frames.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';

/** RFC 6455 §1.3: the GUID of Sec-WebSocket-Accept. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const TEXT = 0x1;
export const BINARY = 0x2;
export const CLOSE = 0x8;
export const PING = 0x9;
export const PONG = 0xa;

/** The Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** One frame (RFC 6455 §5.2): FIN set, masked (a client's) or not (a server's). */
export function frame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = 0x80 | opcode;
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? n : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(n, 2);
  else if (ext === 8) head.writeBigUInt64BE(BigInt(n), 2);
  if (!masked) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + ext);
  const body = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) body[i] = (payload[i] ?? 0) ^ (key[i & 3] ?? 0);
  return Buffer.concat([head, body]);
}

export interface Frame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** Decodes frames from a byte stream, masked or not (whole frames only; fragments are not joined). */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private have = 0;
  /** Bytes the next frame needs in all (0 while its header is incomplete). */
  private need = 0;

  /** Adds bytes; returns the frames they complete. Chunks are joined only once a frame is whole. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.have += chunk.length;
    if (this.have < Math.max(this.need, 2)) return [];
    let b = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
    const out: Frame[] = [];
    this.need = 0;
    for (;;) {
      if (b.length < 2) break;
      const masked = ((b[1] ?? 0) & 0x80) !== 0;
      let n = (b[1] ?? 0) & 0x7f;
      let off = 2;
      if (n === 126) {
        if (b.length < 4) break;
        n = b.readUInt16BE(2);
        off = 4;
      } else if (n === 127) {
        if (b.length < 10) break;
        n = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const start = off + (masked ? 4 : 0);
      if (b.length < start + n) {
        this.need = start + n;
        break;
      }
      const payload = Buffer.from(b.subarray(start, start + n));
      if (masked) for (let i = 0; i < n; i++) payload[i] = (payload[i] ?? 0) ^ (b[off + (i & 3)] ?? 0);
      out.push({ opcode: (b[0] ?? 0) & 0x0f, payload });
      b = b.subarray(start + n);
    }
    this.chunks = b.length > 0 ? [b] : [];
    this.have = b.length;
    return out;
  }
}

/** What the echo backend saw of one handshake. */
export interface Handshake {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Raw header lines, as [name, value]. */
  readonly raw: readonly (readonly [string, string])[];
}

export interface EchoBackend {
  port: number;
  readonly handshakes: Handshake[];
  /** Plain requests (no Upgrade, or one answered without 101), by URL. */
  readonly plain: string[];
  /** The upgraded sockets, open or closed. */
  readonly sockets: net.Socket[];
  /** The most bytes an upgraded socket had queued (its writableLength): proof the other end stopped reading. */
  maxQueued: number;
  close(): Promise<void>;
}

/**
 * An echo backend: every text and binary frame comes back unmasked, ping gets pong, close gets close and the
 * connection's end. Upgrade requests for a path containing `/status-NNN` are answered NNN with a body instead;
 * one containing `/greet` gets a text frame "hello" in the same write as its 101.
 */
export async function echoBackend(): Promise<EchoBackend> {
  const handshakes: Handshake[] = [];
  const plain: string[] = [];
  const sockets: net.Socket[] = [];
  const server = http.createServer((req, res) => {
    plain.push(req.url ?? '');
    res.end(`plain ${req.url ?? ''}`);
  });
  const b: EchoBackend = {
    port: 0,
    handshakes,
    plain,
    sockets,
    maxQueued: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const url = req.url ?? '';
    const raw: [string, string][] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
      raw.push([req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '']);
    handshakes.push({ url, headers: req.headers, raw });
    socket.on('error', () => undefined);
    const status = /\/status-(\d{3})/.exec(url)?.[1];
    if (status !== undefined) {
      plain.push(url);
      const body = `refused ${status}`;
      socket.end(`HTTP/1.1 ${status} No\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    sockets.push(socket);
    const key = req.headers['sec-websocket-key'] ?? '';
    let reply =
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptFor(key)}\r\nX-Backend: echo\r\n\r\n`;
    if (url.includes('/greet')) reply += frame(TEXT, Buffer.from('hello'), false).toString('latin1');
    socket.write(Buffer.from(reply, 'latin1'));
    const decoder = new FrameDecoder();
    const onBytes = (chunk: Buffer): void => {
      for (const f of decoder.push(chunk)) {
        if (f.opcode === CLOSE) {
          socket.end(frame(CLOSE, f.payload, false));
          return;
        }
        const op = f.opcode === PING ? PONG : f.opcode;
        socket.write(frame(op, f.payload, false));
        b.maxQueued = Math.max(b.maxQueued, socket.writableLength);
      }
    };
    socket.on('data', onBytes);
    if (head.length > 0) onBytes(head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  b.port = typeof a === 'object' && a !== null ? a.port : 0;
  return b;
}

/** The opening handshake's request (RFC 6455 §4.1) for `path`, with a fresh key; `extra` header lines. */
export function handshakeRequest(path: string, extra = ''): { text: string; key: string } {
  const key = randomBytes(16).toString('base64');
  const text =
    `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
  return { text, key };
}

/** A WebSocket client on one socket: the handshake's response head (a 101: other answers are RawClient's), then
 *  frames. */
export class WsClient {
  /** The response head to the handshake (up to the empty line), once it came. */
  head = '';
  private buf = Buffer.alloc(0);
  private readonly decoder = new FrameDecoder();
  private readonly frames: Frame[] = [];
  private ended = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.take(d);
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  /** Connects to 127.0.0.1:`port` (over TLS when `secure`, trusting any certificate). */
  static connect(port: number, secure = false): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const s: net.Socket = secure
        ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost' }, () => {
            resolve(new WsClient(s));
          })
        : net.connect({ port, host: '127.0.0.1' }, () => {
            resolve(new WsClient(s));
          });
      s.once('error', reject);
    });
  }

  private take(d: Buffer): void {
    if (this.head === '') {
      this.buf = Buffer.concat([this.buf, d]);
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.buf.toString('latin1', 0, end + 4);
      d = this.buf.subarray(end + 4);
      this.buf = Buffer.alloc(0);
    }
    if (d.length > 0) this.frames.push(...this.decoder.push(d));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private wait(what: string, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; head ${JSON.stringify(this.head)}`));
      }, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends a masked frame. */
  sendFrame(opcode: number, payload: Buffer | string): boolean {
    return this.socket.write(frame(opcode, typeof payload === 'string' ? Buffer.from(payload) : payload, true));
  }

  /** Waits for the response head to the handshake. */
  async response(ms = 5000): Promise<string> {
    while (this.head === '') {
      if (this.ended) throw new Error(`closed before a response head; have ${JSON.stringify(this.buf.toString())}`);
      await this.wait('a response head', ms);
    }
    return this.head;
  }

  /** Waits for `n` frames and takes them. */
  async next(n = 1, ms = 5000): Promise<Frame[]> {
    while (this.frames.length < n) {
      if (this.ended) throw new Error(`closed after ${this.frames.length} of ${n} frames`);
      await this.wait(`${n} frames (have ${this.frames.length})`, ms);
    }
    return this.frames.splice(0, n);
  }

  /** Frames received and not taken yet. */
  get pending(): number {
    return this.frames.length;
  }

  /** Waits until the server closes the connection (FIN or reset). */
  async closed(ms = 5000): Promise<void> {
    while (!this.ended) await this.wait('the close', ms);
  }

  get isClosed(): boolean {
    return this.ended;
  }

  close(): void {
    this.socket.destroy();
  }
}
