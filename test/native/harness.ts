/**
 * A fixed-response HTTP/1.1 server over the Transport seam, for the native transport's tests, its strace and
 * valgrind checks and its measurements. Runs in-process (startHarness) or as a program:
 *
 *   node build/test/native/harness.js [--transport native|net] [--host 127.0.0.1] [--port 0] [--file PATH]
 *                                     [--exit-after-ms N]
 *
 * It prints `listening PORT` once ready, stops on SIGTERM/SIGINT (closing the listener and every connection, so
 * that the process ends by itself with an empty loop, as valgrind's leak check wants), and serves:
 *   GET /file          the --file, by sendFile (native) or read+write (net)
 *   GET /big?n=BYTES   BYTES of a pattern by write(), honouring write()'s false and onDrain
 *   POST /upload       reads Content-Length bytes, answers "<bytes> <sha256 hex>"
 *   GET /spawn         runs /bin/echo through the native launcher and answers its stdout (native only)
 *   anything else      1 KiB of 'x'
 * `Connection: close` is honoured; otherwise keep-alive, pipelined requests answered in order.
 *
 * --transport net runs the same code over node:net through the server's own NodeTransport: the baseline the
 * native transport is measured against.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Transport, TransportEvents } from '../../src/server/transport.js';
import { loadAddon } from '../../src/server/native/addon.js';
import { NativeLoop } from '../../src/server/native/loop.js';
import { NativeListener } from '../../src/server/native/listener.js';
import { NativeLauncher } from '../../src/server/native/launcher.js';
import { NodeTransport } from '../../src/server/node/transport.js';

const BODY_1K = Buffer.alloc(1024, 'x');
const head = (length: number, close: boolean, type = 'text/plain'): string =>
  `HTTP/1.1 200 OK\r\nServer: harness\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\nConnection: ${close ? 'close' : 'keep-alive'}\r\n\r\n`;
const FIXED = {
  keep: Buffer.concat([Buffer.from(head(1024, false), 'latin1'), BODY_1K]),
  close: Buffer.concat([Buffer.from(head(1024, true), 'latin1'), BODY_1K]),
};
const PATTERN = Buffer.alloc(64 * 1024);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = (i * 7 + 3) & 0xff;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** What the harness serves from. */
export interface HarnessOptions {
  /** File for GET /file. */
  readonly file?: string;
  /** For GET /spawn. */
  readonly launcher?: NativeLauncher;
}

interface Request {
  readonly method: string;
  readonly path: string;
  readonly close: boolean;
  readonly length: number;
}

function parseHead(text: string): Request | null {
  const lines = text.split('\r\n');
  const [method = '', target = '', version = ''] = (lines[0] ?? '').split(' ');
  if (method === '' || !version.startsWith('HTTP/1.')) return null;
  let close = version === 'HTTP/1.0';
  let length = 0;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i] ?? '';
    const c = l.indexOf(':');
    if (c < 0) continue;
    const name = l.slice(0, c).trim().toLowerCase();
    const value = l.slice(c + 1).trim();
    if (name === 'connection')
      close = value.toLowerCase() === 'close' ? true : value.toLowerCase() === 'keep-alive' ? false : close;
    else if (name === 'content-length') length = Number(value);
  }
  if (!Number.isSafeInteger(length) || length < 0) return null;
  return { method, path: target, close, length };
}

/** One connection of the harness. */
class HarnessConn implements TransportEvents {
  private buf: Buffer | null = null;
  private state: 'head' | 'body' | 'busy' | 'done' = 'head';
  private req: Request | null = null;
  private bodyLeft = 0;
  private bodyBytes = 0;
  private hash: Hash | null = null;
  private peerEnded = false;
  private file: { fd: number; pos: number; size: number } | null = null;
  private bigLeft = 0;
  /** The response is all queued: finish it on the next onDrain. */
  private finishOnDrain = false;

  constructor(
    private readonly t: Transport,
    private readonly opts: HarnessOptions,
    private readonly onGone: (c: HarnessConn) => void,
  ) {}

  onData(chunk: Buffer): void {
    this.buf = this.buf === null || this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.advance();
  }

  onEnd(): void {
    this.peerEnded = true;
    if (this.state === 'head' && (this.buf === null || this.buf.length === 0)) this.t.closeAfterWrite();
    else if (this.state === 'body') this.t.destroy();
  }

  onDrain(): void {
    if (this.file !== null) this.pumpFile();
    else if (this.bigLeft > 0) this.pumpBig();
    else if (this.finishOnDrain) {
      this.finishOnDrain = false;
      this.finish();
    }
  }

  onClose(): void {
    if (this.file !== null) {
      fs.closeSync(this.file.fd);
      this.file = null;
    }
    this.state = 'done';
    this.onGone(this);
  }

  /** Server shutdown. */
  close(): void {
    this.t.destroy();
  }

  private advance(): void {
    for (;;) {
      const buf = this.buf;
      if (buf === null || buf.length === 0) return;
      if (this.state === 'head') {
        const end = buf.indexOf(CRLFCRLF);
        if (end < 0) {
          if (buf.length > 64 * 1024) this.t.destroy();
          return;
        }
        const req = parseHead(buf.toString('latin1', 0, end));
        this.buf = buf.subarray(end + 4);
        if (req === null) {
          this.t.destroy();
          return;
        }
        this.req = req;
        if (req.length > 0) {
          this.state = 'body';
          this.bodyLeft = req.length;
          this.bodyBytes = 0;
          this.hash = createHash('sha256');
        } else {
          this.state = 'busy';
          this.respond(req);
        }
      } else if (this.state === 'body') {
        const n = Math.min(this.bodyLeft, buf.length);
        this.hash?.update(buf.subarray(0, n));
        this.bodyLeft -= n;
        this.bodyBytes += n;
        this.buf = buf.subarray(n);
        if (this.bodyLeft === 0 && this.req !== null) {
          this.state = 'busy';
          this.respond(this.req);
        }
      } else {
        return; // busy: pipelined bytes wait
      }
    }
  }

  private respond(req: Request): void {
    const t = this.t;
    if (req.method === 'POST' && req.path === '/upload') {
      const text = `${this.bodyBytes} ${this.hash?.digest('hex') ?? ''}`;
      this.hash = null;
      t.write(Buffer.from(head(text.length, req.close) + text, 'latin1'));
      this.finish();
      return;
    }
    if (req.path === '/file' && this.opts.file !== undefined) {
      const fd = fs.openSync(this.opts.file, 'r');
      const size = fs.fstatSync(fd).size;
      this.file = { fd, pos: 0, size };
      t.write(Buffer.from(head(size, req.close, 'application/octet-stream'), 'latin1'));
      this.pumpFile();
      return;
    }
    if (req.path === '/spawn' && this.opts.launcher !== undefined) {
      this.spawnEcho(req, this.opts.launcher);
      return;
    }
    if (req.path.startsWith('/big?n=')) {
      this.bigLeft = Number(req.path.slice('/big?n='.length)) || 0;
      t.write(Buffer.from(head(this.bigLeft, req.close, 'application/octet-stream'), 'latin1'));
      this.pumpBig();
      return;
    }
    if (t.write(req.close ? FIXED.close : FIXED.keep)) this.finish();
    else this.finishOnDrain = true;
  }

  private spawnEcho(req: Request, launcher: NativeLauncher): void {
    const out: Buffer[] = [];
    const r = launcher.launch(
      { file: '/bin/echo', args: ['spawned'], cwd: '/', env: {}, stdin: 'null' },
      {
        onStdout: (c) => void out.push(c),
        onStdoutEnd() {},
        onStderr() {},
        onStderrEnd() {},
        onStdinDrain() {},
        onSpawnError: () => this.t.destroy(),
        onExit() {},
        onClose: () => {
          const body = Buffer.concat(out);
          this.t.write(Buffer.concat([Buffer.from(head(body.length, req.close), 'latin1'), body]));
          this.finish();
        },
      },
    );
    if (!r.ok) this.t.destroy();
  }

  /** sendFile while the socket takes it all; otherwise onDrain continues. Without sendFile: read and write. */
  private pumpFile(): void {
    const f = this.file;
    if (f === null) return;
    while (f.pos < f.size) {
      const want = f.size - f.pos;
      if (this.t.canSendFile) {
        const n = this.t.sendFile(f.fd, f.pos, want);
        if (n < 0) {
          this.t.destroy();
          return;
        }
        f.pos += n;
        if (n < want) return; // onDrain follows
      } else {
        const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, want));
        const got = fs.readSync(f.fd, chunk, 0, chunk.length, f.pos);
        f.pos += got;
        if (!this.t.write(got === chunk.length ? chunk : chunk.subarray(0, got))) return;
      }
    }
    fs.closeSync(f.fd);
    this.file = null;
    this.finish();
  }

  private pumpBig(): void {
    while (this.bigLeft > 0) {
      const n = Math.min(this.bigLeft, PATTERN.length);
      this.bigLeft -= n;
      // A fresh copy per chunk: the transport keeps what it is given until the kernel takes it.
      if (!this.t.write(Buffer.from(PATTERN.subarray(0, n)))) {
        if (this.bigLeft === 0) this.finishOnDrain = true;
        return;
      }
    }
    this.finish();
  }

  private finish(): void {
    const req = this.req;
    this.req = null;
    if (req === null || req.close) {
      this.t.closeAfterWrite();
      this.state = 'done';
      return;
    }
    this.state = 'head';
    if (this.peerEnded && (this.buf === null || this.buf.length === 0)) {
      this.t.closeAfterWrite();
      return;
    }
    this.advance();
  }
}

/** A running harness. */
export interface Harness {
  readonly port: number;
  readonly connections: number;
  /** Stops listening and closes every connection. */
  close(): void;
}

/** Serves over native transports on `host:port` (in this process's native loop). */
export function startNativeHarness(host: string, port: number, opts: HarnessOptions): Harness {
  const addon = loadAddon();
  if (!addon.ok) throw new Error(addon.error);
  const loop = NativeLoop.get(addon.value);
  if (!loop.ok) throw new Error(loop.error);
  opts = { ...opts, launcher: new NativeLauncher(loop.value) };
  const conns = new Set<HarnessConn>();
  const gone = (c: HarnessConn): void => void conns.delete(c);
  const l = NativeListener.listen(loop.value, { host, port, backlog: 4096 }, (t) => {
    const c = new HarnessConn(t, opts, gone);
    conns.add(c);
    t.setNoDelay(true);
    t.bind(c);
  });
  if (!l.ok) throw new Error(l.error);
  const listener = l.value;
  return {
    port: listener.port,
    get connections() {
      return conns.size;
    },
    close() {
      listener.close();
      for (const c of [...conns]) c.close();
    },
  };
}

/** Serves over node:net on `host:port`; resolves once listening. */
export function startNetHarness(host: string, port: number, opts: HarnessOptions): Promise<Harness> {
  const conns = new Set<HarnessConn>();
  const gone = (c: HarnessConn): void => void conns.delete(c);
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    const t = new NodeTransport(s);
    const c = new HarnessConn(t, opts, gone);
    conns.add(c);
    t.bind(c);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => {
      const a = server.address();
      resolve({
        port: typeof a === 'object' && a !== null ? a.port : 0,
        get connections() {
          return conns.size;
        },
        close() {
          server.close();
          for (const c of [...conns]) c.close();
        },
      });
    });
  });
}

async function main(argv: readonly string[]): Promise<void> {
  const opt = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) opt.set(argv[i] ?? '', argv[i + 1] ?? '');
  const transport = opt.get('--transport') ?? 'native';
  const host = opt.get('--host') ?? '127.0.0.1';
  const port = Number(opt.get('--port') ?? '0');
  const file = opt.get('--file');
  const opts: HarnessOptions = file !== undefined ? { file } : {};
  const h = transport === 'net' ? await startNetHarness(host, port, opts) : startNativeHarness(host, port, opts);
  process.stdout.write(`listening ${h.port} ${process.pid}\n`);
  const stop = (): void => {
    h.close();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const exitAfter = Number(opt.get('--exit-after-ms') ?? '0');
  if (exitAfter > 0) setTimeout(stop, exitAfter).unref();
  // The process ends by itself once the listener and every connection are closed (signal handlers do not hold
  // the loop), which is what valgrind's leak check needs: no process.exit() with live handles.
  process.on('exit', () => {
    process.removeListener('SIGTERM', stop);
  });
}

if (process.argv[1] !== undefined && /harness\.js$/.test(process.argv[1])) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`harness: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
