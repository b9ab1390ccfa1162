/**
 * A raw-TCP HTTP/1.1 client for tests: sends exact bytes, parses responses strictly enough to check framing.
 */
import * as net from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly reason: string;
  readonly version: string;
  /** Lower-case name → values in order. */
  readonly headers: Map<string, string[]>;
  readonly body: Buffer;
  /** The bytes of the head, for exact checks. */
  readonly rawHead: string;
  header(name: string): string | undefined;
}

/** A connection that reads responses one by one from a single socket. */
export class RawClient {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private ended = false;
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** Connects to host:port; `localAddress` picks the client's own address (127.0.0.2 is a second client). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, ...(localAddress !== undefined ? { localAddress } : {}) }, () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private waitData(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(
          new Error(`timed out waiting for data; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`),
        );
      }, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** True once the server closed the connection (FIN or reset) and all its bytes were read. */
  get closed(): boolean {
    return this.ended && this.buf.length === 0;
  }

  /** Waits until the server closes the connection; resolves with the leftover bytes. */
  async waitClose(timeoutMs = 5000): Promise<Buffer> {
    while (!this.ended) await this.waitData(timeoutMs);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }

  /** Waits until the bytes received so far contain `text`; resolves with them, consuming nothing. */
  async until(text: string, timeoutMs = 5000): Promise<string> {
    for (;;) {
      const have = this.buf.toString('latin1');
      if (have.includes(text)) return have;
      if (this.ended)
        throw new Error(`connection closed before ${JSON.stringify(text)}; have ${JSON.stringify(have.slice(0, 300))}`);
      await this.waitData(timeoutMs);
    }
  }

  /** Reads one response. `head` = the request was HEAD (no body follows whatever the headers say). */
  async read(opts: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    for (;;) {
      const r = tryParse(this.buf, opts.head === true, this.ended);
      if (r !== null) {
        this.buf = this.buf.subarray(r.used);
        return r.res;
      }
      if (this.ended)
        throw new Error(
          `connection closed before a full response; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`,
        );
      await this.waitData(timeoutMs);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One response at the start of `buf` and the bytes it used, or null when it is not complete yet. */
export function tryParse(buf: Buffer, isHead: boolean, ended: boolean): { res: RawResponse; used: number } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const rawHead = buf.toString('latin1', 0, end + 4);
  const lines = rawHead.slice(0, -4).split('\r\n');
  const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(lines[0]!);
  if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const headers = new Map<string, string[]>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    const k = l.slice(0, i).toLowerCase();
    const v = l.slice(i + 1).trim();
    headers.set(k, [...(headers.get(k) ?? []), v]);
  }
  const status = Number(m[2]);
  const mk = (body: Buffer, used: number): { res: RawResponse; used: number } => ({
    res: {
      status,
      reason: m[3]!,
      version: m[1]!,
      headers,
      body,
      rawHead,
      header: (n) => headers.get(n.toLowerCase())?.[0],
    },
    used,
  });
  let pos = end + 4;
  if (isHead || status < 200 || status === 204 || status === 304) return mk(Buffer.alloc(0), pos);
  const te = headers.get('transfer-encoding')?.[0];
  if (te !== undefined && te.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const le = buf.indexOf('\r\n', pos);
      if (le < 0) return null;
      const size = parseInt(buf.toString('latin1', pos, le).split(';')[0]!, 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size');
      pos = le + 2;
      if (size === 0) {
        const te2 = buf.indexOf('\r\n\r\n', pos - 2);
        if (te2 < 0) return null;
        return mk(Buffer.concat(parts), te2 + 4);
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
  }
  const cl = headers.get('content-length')?.[0];
  if (cl !== undefined) {
    const n = Number(cl);
    if (buf.length < pos + n) return null;
    return mk(buf.subarray(pos, pos + n), pos + n);
  }
  // Close-delimited.
  if (!ended) return null;
  return mk(buf.subarray(pos), buf.length);
}

/** Opens a connection, sends `data`, reads one response, closes. */
export async function rawRequest(
  port: number,
  data: string | Buffer,
  opts: { head?: boolean; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const c = await RawClient.connect(port);
  try {
    c.send(data);
    return await c.read(opts);
  } finally {
    c.close();
  }
}

/** A GET with the usual headers; `from` is the client's own address (default: the kernel's choice). */
export async function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  from?: string,
): Promise<RawResponse> {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const host = headers['Host'] === undefined ? 'Host: localhost\r\n' : '';
  const request = `GET ${path} HTTP/1.1\r\n${host}${extra}Connection: close\r\n\r\n`;
  if (from === undefined) return rawRequest(port, request);
  const c = await RawClient.connect(port, '127.0.0.1', from);
  try {
    c.send(request);
    return await c.read();
  } finally {
    c.close();
  }
}
