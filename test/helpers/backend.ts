/**
 * Upstream servers for the gateway tests, run inside the test process: a node:http server that records what it
 * was sent, and a raw node:net one that answers with exact bytes.
 */
import * as http from 'node:http';
import * as net from 'node:net';

/** What a backend saw of one request. */
export interface Seen {
  readonly method: string;
  readonly url: string;
  /** Raw header lines (name case kept), as [name, value]. */
  readonly raw: readonly (readonly [string, string])[];
  readonly headers: http.IncomingHttpHeaders;
  readonly bodyBytes: number;
}

export interface HttpBackend {
  readonly port: number;
  readonly seen: Seen[];
  /** Connections accepted so far, and closed so far. */
  connections: number;
  closed: number;
  close(): Promise<void>;
}

/** A node:http backend; `handle` answers (default: 200 "ok PATH"). The body is read and counted first. */
export async function httpBackend(
  handle?: (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void,
  opts: { readBody?: boolean } = {},
): Promise<HttpBackend> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const raw: [string, string][] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
      raw.push([req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '']);
    const done = (n: number): void => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', raw, headers: req.headers, bodyBytes: n };
      seen.push(s);
      if (handle !== undefined) handle(req, res, s);
      else res.end(`ok ${req.url ?? ''}`);
    };
    if (opts.readBody === false) {
      done(-1);
      return;
    }
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      done(n);
    });
  });
  server.keepAliveTimeout = 30_000;
  const b = {
    port: 0,
    seen,
    connections: 0,
    closed: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
  server.on('connection', (s: net.Socket) => {
    b.connections++;
    s.on('close', () => {
      b.closed++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  b.port = typeof a === 'object' && a !== null ? a.port : 0;
  return b;
}

export interface RawBackend {
  readonly port: number;
  readonly sockets: net.Socket[];
  /** Bytes received on each connection, in order of accept. */
  readonly received: Buffer[];
  close(): Promise<void>;
}

/** A node:net backend: `onRequest(socket, bytesSoFar, index)` runs on every read until it returns true. */
export async function rawBackend(onData: (s: net.Socket, all: Buffer, conn: number) => boolean): Promise<RawBackend> {
  const sockets: net.Socket[] = [];
  const received: Buffer[] = [];
  const server = net.createServer((s) => {
    const i = sockets.length;
    sockets.push(s);
    received.push(Buffer.alloc(0));
    let done = false;
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      received[i] = Buffer.concat([received[i] ?? Buffer.alloc(0), d]);
      if (!done) done = onData(s, received[i] ?? Buffer.alloc(0), i);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  return {
    port: typeof a === 'object' && a !== null ? a.port : 0,
    sockets,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** True once `buf` holds a whole request head. */
export const hasHead = (buf: Buffer): boolean => buf.includes('\r\n\r\n');
