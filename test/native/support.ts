/**
 * Shared pieces of the native transport's tests: the addon and loop (or why the tests must skip), raw TCP
 * clients, and system tools installed on demand (strace, valgrind, curl) where the tests run as root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { loadAddon, type NativeAddon } from '../../src/server/native/addon.js';
import { NativeLoop } from '../../src/server/native/loop.js';

/** The addon and the process's loop. */
export interface Native {
  readonly addon: NativeAddon;
  readonly loop: NativeLoop;
}

/**
 * The addon and loop, or the reason they are unavailable (the tests then skip with it). With
 * LOCALHOST_NATIVE_REQUIRED=1 (CI, where the addon must have been built) unavailability throws instead, so that
 * the test file fails rather than skips.
 */
export function native(): Native | string {
  const a = loadAddon();
  const why = !a.ok ? `native addon unavailable: ${a.error}` : null;
  const l = a.ok ? NativeLoop.get(a.value) : null;
  const reason = why ?? (l !== null && !l.ok ? `native loop unavailable: ${l.error}` : null);
  if (reason !== null || !a.ok || l === null || !l.ok) {
    const text = reason ?? 'native transport unavailable';
    if (process.env['LOCALHOST_NATIVE_REQUIRED'] === '1') throw new Error(`${text} (LOCALHOST_NATIVE_REQUIRED=1)`);
    return text;
  }
  return { addon: a.value, loop: l.value };
}

/** `native()` for a test body that is skipped when the addon is missing: throws if called anyway. */
export function mustNative(n: Native | string): Native {
  if (typeof n === 'string') throw new Error(n);
  return n;
}

/** A connected client socket. */
export function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host, allowHalfOpen: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Everything the socket sends until it ends or closes. */
export function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('close', () => resolve(Buffer.concat(parts)));
    s.once('error', (e) => reject(e));
  });
}

/** Splits a byte stream of Content-Length responses into their bodies (throws on anything else). */
export function splitResponses(all: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < all.length) {
    const end = all.indexOf('\r\n\r\n', off, 'latin1');
    if (end < 0)
      throw new Error(`truncated head at ${off}: ${JSON.stringify(all.subarray(off, off + 80).toString('latin1'))}`);
    const head = all.toString('latin1', off, end);
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (m === null || m[1] === undefined) throw new Error(`no Content-Length in ${JSON.stringify(head)}`);
    const len = Number(m[1]);
    if (end + 4 + len > all.length) throw new Error(`truncated body: want ${len}, have ${all.length - end - 4}`);
    out.push(all.subarray(end + 4, end + 4 + len));
    off = end + 4 + len;
  }
  return out;
}

/** Sends `req` and collects responses until `count` complete ones arrived. */
export function exchange(s: net.Socket, req: string | Buffer, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      let got: Buffer[];
      try {
        got = splitResponsesPartial(buf);
      } catch (e) {
        cleanup();
        reject(e);
        return;
      }
      if (got.length >= count) {
        cleanup();
        resolve(got.slice(0, count));
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error(`closed after ${splitResponsesPartial(buf).length} of ${count} responses`));
    };
    const cleanup = (): void => {
      s.off('data', onData);
      s.off('close', onClose);
    };
    s.on('data', onData);
    s.on('close', onClose);
    s.write(req);
  });
}

/** The complete responses at the start of `all`. */
function splitResponsesPartial(all: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (;;) {
    const end = all.indexOf('\r\n\r\n', off, 'latin1');
    if (end < 0) return out;
    const m = /\r\ncontent-length: *(\d+)/i.exec(all.toString('latin1', off, end));
    if (m === null || m[1] === undefined) throw new Error('response without Content-Length');
    const len = Number(m[1]);
    if (end + 4 + len > all.length) return out;
    out.push(all.subarray(end + 4, end + 4 + len));
    off = end + 4 + len;
  }
}

/** True when `cmd` runs. */
export function have(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.error === undefined;
}

/**
 * Makes sure a Debian package's command exists: as root, apt-get installs it (one `apt-get update` first);
 * otherwise, or when that fails, the reason to skip.
 */
export function ensureTool(cmd: string, pkg: string = cmd): string | null {
  if (have(cmd)) return null;
  if (process.getuid?.() !== 0) return `${cmd} is not installed (apt-get install -y ${pkg}) and this is not root`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], {
    stdio: 'ignore',
    env,
    timeout: 600_000,
  });
  if (r.status !== 0 || !have(cmd)) return `${cmd} could not be installed (apt-get install -y ${pkg} failed)`;
  return null;
}

/** Resolves after `ms` (to space out a slow reader, never to wait for a result). */
export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd` and resolves with the harness's port and pid once it printed `listening PORT PID`. */
export function startListening(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; port: number; pid: number; stderr: () => string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`no 'listening' line in 120 s; stderr: ${err.slice(-2000)}`)),
      120_000,
    );
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+) (\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), pid: Number(m[2]), stderr: () => err });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening; stderr: ${err.slice(-2000)}`));
    });
  });
}
