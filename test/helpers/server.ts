/**
 * Starts the real server (build/src/main.js) as a child process on free ephemeral ports, for integration tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const MAIN = path.join(REPO, 'build/src/main.js');

/** Ports this process has handed out: the kernel may give a just-closed port to the next bind to 0. */
const handedOut = new Set<number>();

/**
 * A port that was free a moment ago (bind to 0, read it, close), never one this process handed out before: two
 * calls in a row can otherwise get the same port, and a config with `{PORT}` and `{PORT2}` then holds two servers
 * on one address (the second becomes a virtual host of the first, and a test meant for it reaches the first).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await boundZero();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function boundZero(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => {
        resolve(port);
      });
    });
  });
}

export interface RunningServer {
  readonly port: number;
  readonly ports: readonly number[];
  /** Temporary directory holding the config and any files the test asked for. */
  readonly dir: string;
  readonly proc: ChildProcess;
  /** Everything the server printed on stdout and stderr so far. */
  output(): string;
  /** SIGTERM, wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
}

export interface ServerOptions {
  /** Config text; `{PORT}`, `{PORT2}`, `{PORT3}` become free ports and `{DIR}` the temp directory. */
  readonly config: string;
  /** Files to create under the temp dir (relative path → content); directories are made as needed. */
  readonly files?: Readonly<Record<string, string | Buffer>>;
  /** Extra argv before the config path. */
  readonly args?: readonly string[];
  /** Keep the temp dir after stop() (it is removed by default). */
  readonly keepDir?: boolean;
  /** Run the server as this uid (and gid), from a copy of the build in the world-readable temp dir (the checkout
   *  may sit in a private directory). The caller checks that the user can run it (see canRunAs). */
  readonly user?: number;
}

/** Writes the files and config into a fresh temp dir, starts the server, waits for its listening lines. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-test-'));
  let main = MAIN;
  if (opts.user !== undefined) {
    fs.chmodSync(dir, 0o755);
    // The build is self-contained (no runtime dependencies): a copy runs anywhere.
    const serverDir = path.join(dir, 'server');
    fs.cpSync(path.dirname(MAIN), serverDir, { recursive: true });
    fs.writeFileSync(path.join(serverDir, 'package.json'), '{"type":"module"}\n');
    // The native addon, where the copy looks for it (the nearest native/build/Release above its modules).
    const addon = path.join('native', 'build', 'Release', 'localhost_native.node');
    if (fs.existsSync(path.join(REPO, addon))) {
      fs.mkdirSync(path.dirname(path.join(serverDir, addon)), { recursive: true });
      fs.copyFileSync(path.join(REPO, addon), path.join(serverDir, addon));
    }
    main = path.join(serverDir, 'main.js');
  }
  const ports = [await freePort(), await freePort(), await freePort()];
  for (const [rel, content] of Object.entries(opts.files ?? {})) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  const text = opts.config
    .replaceAll('{PORT}', String(ports[0]))
    .replaceAll('{PORT2}', String(ports[1]))
    .replaceAll('{PORT3}', String(ports[2]))
    .replaceAll('{DIR}', dir);
  const configPath = path.join(dir, 'test.conf');
  fs.writeFileSync(configPath, text);
  const ids = opts.user !== undefined ? { uid: opts.user, gid: opts.user } : {};
  const proc = spawn(process.execPath, [main, ...(opts.args ?? []), configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...ids,
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // One "listening on" line per bound socket: count distinct port numbers (servers sharing a port bind it once).
  const portNumbers = new Set<string>();
  for (const m of text.matchAll(/(?:^|[;{\s])port\s+([\d\s]+?)\s*(?:;|$|\n|\})/gm))
    for (const p of m[1]!.trim().split(/\s+/)) portNumbers.add(p);
  for (const m of text.matchAll(/(?:^|[;{\s])listen\s+(?:\S*:)?(\d+)\b/gm)) portNumbers.add(m[1] ?? '');
  const expected = portNumbers.size;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not start:\n${out}`));
    }, 10_000);
    const check = (): void => {
      if ((out.match(/^listening on /gm) ?? []).length >= Math.max(1, expected)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
    check();
  });
  return {
    port: ports[0]!,
    ports,
    dir,
    proc,
    output: () => out,
    stop: () =>
      new Promise<number | null>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          resolve(proc.exitCode);
          return;
        }
        proc.once('exit', (code) => {
          resolve(code);
        });
        proc.kill('SIGTERM');
      }).then((code) => {
        if (opts.keepDir !== true) fs.rmSync(dir, { recursive: true, force: true });
        return code;
      }),
  };
}

/** A minimal server block serving `{DIR}/www` on `{PORT}`; `extra` is added inside the server block. */
export function basicConfig(extra = '', location = ''): string {
  return `server {
  host 127.0.0.1
  port {PORT}
  ${extra}
  location / {
    root {DIR}/www
    default_file index.html
    ${location}
  }
}
`;
}

/** Sends `signal` to a child this test started (by its PID) and resolves once it has exited. */
export function stopProcess(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve();
    else {
      p.once('exit', () => {
        resolve();
      });
      p.kill(signal);
    }
  });
}
