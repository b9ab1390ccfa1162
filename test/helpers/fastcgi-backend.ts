/**
 * FastCGI application servers for tests: php-fpm (Debian's), started in a temp directory on a unix socket and
 * stopped by PID, and a scripted Responder written here from the specification (its own small codec, so that a
 * bug in src/handlers/fastcgi/protocol.ts cannot hide on both sides) for what php-fpm will not do on demand:
 * refuse, stall, die mid-response, count its connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { becomes } from './wait.js';

/** Debian's php-fpm binary, or null when it is not installed. */
export function phpFpmBinary(): string | null {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin']) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    const name = names
      .filter((n) => /^php-fpm[0-9.]*$/.test(n))
      .sort()
      .pop();
    if (name !== undefined) return path.join(dir, name);
  }
  return null;
}

/** A running php-fpm master. */
export interface PhpFpm {
  readonly socket: string;
  readonly pid: number;
  /** Its error log so far. */
  log(): string;
  /** SIGQUIT (graceful), then SIGKILL after 3 s; resolves once it exited and its socket is gone. */
  stop(): Promise<void>;
}

/** Starts php-fpm with a static pool of `children` on `dir`/php-fpm.sock (as root it needs -R and user root). */
export async function startPhpFpm(dir: string, children = 2, ini: Record<string, string> = {}): Promise<PhpFpm> {
  const bin = phpFpmBinary();
  if (bin === null) throw new Error('php-fpm is not installed (apt-get install php-fpm)');
  const socket = path.join(dir, 'php-fpm.sock');
  const log = path.join(dir, 'php-fpm.log');
  const values = Object.entries(ini).map(([k, v]) => `php_admin_value[${k}] = ${v}`);
  const root = process.getuid?.() === 0;
  fs.writeFileSync(
    path.join(dir, 'php-fpm.conf'),
    [
      '[global]',
      `error_log = ${log}`,
      'daemonize = no',
      '[test]',
      ...(root ? ['user = root', 'group = root'] : []),
      `listen = ${socket}`,
      'pm = static',
      `pm.max_children = ${children}`,
      'clear_env = yes',
      'catch_workers_output = yes',
      ...values,
      '',
    ].join('\n'),
  );
  fs.rmSync(socket, { force: true });
  const args = ['-n', '-y', path.join(dir, 'php-fpm.conf'), ...(root ? ['-R'] : [])];
  const proc: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const readLog = (): string => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '') + stderr;
  const up = await becomes(() => fs.existsSync(socket) || proc.exitCode !== null, 10_000, 20);
  if (!up || proc.exitCode !== null || proc.pid === undefined) {
    proc.kill('SIGKILL');
    throw new Error(`php-fpm did not start:\n${readLog()}`);
  }
  const pid = proc.pid;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    socket,
    pid,
    log: readLog,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGQUIT');
        const killer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(killer);
      }
      fs.rmSync(socket, { force: true });
    },
  };
}

// ─── A scripted Responder ────────────────────────────────────────────────────────────────────────────────────

/** One request as the Responder received it. */
export interface FcgiRequest {
  readonly params: Map<string, string>;
  readonly stdin: Buffer;
  readonly keepConn: boolean;
  /** The connection's index (in order of accept). */
  readonly conn: number;
}

/** How the script answers a request. */
export interface FcgiReply {
  stdout(data: string | Buffer): void;
  stderr(data: string): void;
  /** FCGI_END_REQUEST with this protocolStatus (0: complete). */
  end(protocolStatus?: number): void;
  readonly socket: net.Socket;
}

export interface FcgiBackend {
  readonly socket: string;
  readonly requests: FcgiRequest[];
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

function rec(type: number, content: Buffer): Buffer {
  const head = Buffer.from([1, type, 0, 1, content.length >> 8, content.length & 0xff, 0, 0]);
  return Buffer.concat([head, content]);
}

function readLen(buf: Buffer, i: number): [number, number] {
  const b = buf[i] ?? 0;
  return b < 128 ? [b, i + 1] : [buf.readUInt32BE(i) & 0x7fffffff, i + 4];
}

/**
 * A FastCGI Responder on `dir`/fcgi.sock; `answer` is called once per request, after its empty STDIN record, or
 * after its params' end record where `early(params)` says so (an application that answers without reading its
 * body, as fastcgi_finish_request() does).
 */
export async function fcgiBackend(
  dir: string,
  answer: (req: FcgiRequest, reply: FcgiReply) => void,
  early: (params: Map<string, string>) => boolean = () => false,
): Promise<FcgiBackend> {
  const socket = path.join(dir, 'fcgi.sock');
  const requests: FcgiRequest[] = [];
  const backend: FcgiBackend = { socket, requests, connections: 0, close: () => Promise.resolve() };
  const server = net.createServer((s) => {
    const conn = backend.connections++;
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let params = Buffer.alloc(0);
    let stdin = Buffer.alloc(0);
    let keepConn = false;
    let answered = false;
    const reply = (): FcgiReply => ({
      socket: s,
      stdout: (data) => {
        const b = Buffer.from(data);
        for (let off = 0; off < b.length; off += 0xffff) s.write(rec(6, b.subarray(off, off + 0xffff)));
      },
      stderr: (data) => s.write(rec(7, Buffer.from(data))),
      end: (status = 0) => {
        if (status === 0) s.write(rec(6, Buffer.alloc(0)));
        s.write(rec(3, Buffer.from([0, 0, 0, 0, status, 0, 0, 0])));
        if (!keepConn) s.end();
      },
    });
    const paramMap = (): Map<string, string> => {
      const map = new Map<string, string>();
      for (let i = 0; i < params.length;) {
        const [nl, a] = readLen(params, i);
        const [vl, b] = readLen(params, a);
        map.set(params.toString('latin1', b, b + nl), params.toString('latin1', b + nl, b + nl + vl));
        i = b + nl + vl;
      }
      return map;
    };
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8) {
        const len = buf.readUInt16BE(4);
        const total = 8 + len + (buf[6] ?? 0);
        if (buf.length < total) break;
        const type = buf[1];
        const content = buf.subarray(8, 8 + len);
        buf = buf.subarray(total);
        if (type === 1) {
          keepConn = ((content[2] ?? 0) & 1) === 1;
          params = Buffer.alloc(0);
          stdin = Buffer.alloc(0);
          answered = false;
        } else if (type === 4 && len > 0) params = Buffer.concat([params, content]);
        else if (type === 4) {
          const map = paramMap();
          if (early(map)) {
            answered = true;
            const req = { params: map, stdin, keepConn, conn };
            requests.push(req);
            answer(req, reply());
          }
        } else if (type === 5 && len > 0) stdin = Buffer.concat([stdin, content]);
        else if (type === 5 && !answered) {
          const req = { params: paramMap(), stdin, keepConn, conn };
          requests.push(req);
          answer(req, reply());
        }
      }
    });
  });
  fs.rmSync(socket, { force: true });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  backend.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return backend;
}
