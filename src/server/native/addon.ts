/**
 * Loads the native addon (native/localhost_native.c, built by scripts/build-native.mjs during `npm install`) and
 * types it. Nothing here throws: without the addon (another OS, no compiler at install time, LOCALHOST_NATIVE=0,
 * a build older than this code) the reason comes back as an error Result and the server keeps to node:net.
 *
 * Every addon function returns a negative errno on failure (never throws); see the C file for each one's contract.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { err, ok, type Result } from '../../lib/result.js';

/** The constants the addon exports (the kernel's own values, not copies). */
export interface NativeConstants {
  readonly EPOLLIN: number;
  readonly EPOLLOUT: number;
  readonly EPOLLRDHUP: number;
  readonly EPOLLPRI: number;
  readonly EPOLLERR: number;
  readonly EPOLLHUP: number;
  readonly EPOLLONESHOT: number;
  /** Largest single read(2). */
  readonly READ_MAX: number;
  /** Most buffers in one writev(2). */
  readonly IOV_MAX: number;
  /** Most accept4(2) calls in one accept(). */
  readonly ACCEPT_MAX: number;
  /** Most ready events in one batch. */
  readonly CAPACITY_MAX: number;
  /** Most bytes one sendfile(2) moves. */
  readonly SENDFILE_MAX: number;
  /** The addon's interface version: bumped whenever a signature below changes. */
  readonly ABI: number;
}

/** epoll_ctl operations, as the kernel numbers them. */
export const CTL_ADD = 1;
export const CTL_DEL = 2;
export const CTL_MOD = 3;

/** The addon's functions. Numbers are -errno on failure; the success value is described on each. */
export interface NativeAddon {
  /** Opens the one epoll set; `onBatch(n)` gets n ready (fd, events, generation) triples in the returned array, or
   *  a negative errno once, after which nothing more is polled. */
  readonly loopOpen: (onBatch: (count: number) => void, capacity: number) => Uint32Array | number;
  /** Whether the epoll set keeps the process alive. */
  readonly loopRef: (on: boolean) => number;
  /** epoll_ctl(op, fd) with epoll_data = fd | generation << 32. */
  readonly ctl: (op: number, fd: number, generation: number, events: number) => number;
  /** A listening TCP socket (numeric IPv4/IPv6 address): the fd. */
  readonly listenTcp: (host: string, port: number, backlog: number, v6only: boolean) => number;
  /** Up to `max` accepted fds written into `out`: their count. */
  readonly accept: (fd: number, out: Int32Array, max: number) => number;
  /** One read(2): a Buffer of exactly the bytes read, 0 at EOF. */
  readonly read: (fd: number, max: number) => Buffer | number;
  /** One read(2) into `buf[offset, offset + length)`: bytes read, 0 at EOF. */
  readonly readInto: (fd: number, buf: Uint8Array, offset: number, length: number) => number;
  /** One write(2): bytes written. */
  readonly write: (fd: number, buf: Uint8Array, offset: number, length: number) => number;
  /** One writev(2) of `bufs[start, start + count)`, the first from `firstOffset`: bytes written. */
  readonly writev: (
    fd: number,
    bufs: readonly Uint8Array[],
    start: number,
    firstOffset: number,
    count: number,
  ) => number;
  /** One sendfile(2) of `count` bytes of `fileFd` from `offset`: bytes sent. */
  readonly sendfile: (socketFd: number, fileFd: number, offset: number, count: number) => number;
  /** shutdown(2): how 0 read, 1 write, 2 both. */
  readonly shutdown: (fd: number, how: number) => number;
  /** close(2), leaving the epoll set first when `deregister`. */
  readonly close: (fd: number, deregister: boolean) => number;
  /** TCP_NODELAY. */
  readonly setNoDelay: (fd: number, on: boolean) => number;
  /** A non-blocking TCP socket connecting (or connected) to a numeric address: the fd; EPOLLOUT says it is over. */
  readonly connectTcp: (host: string, port: number) => number;
  /** A non-blocking unix-domain stream socket connected to `path`: the fd. */
  readonly connectUnix: (path: string) => number;
  /** The socket's pending error (SO_ERROR) as -errno, or 0. */
  readonly sockError: (fd: number) => number;
  /** getsockname(2) as [address, port]. */
  readonly sockName: (fd: number) => [string, number] | number;
  /** getpeername(2) as [address, port]. */
  readonly peerName: (fd: number) => [string, number] | number;
  /** posix_spawn in its own process group; `out` gets pid, pidfd, stdin (or -1), stdout, stderr fds. */
  spawn(
    file: string,
    argv: readonly string[],
    envp: readonly string[],
    cwd: string,
    stdin: number,
    out: Int32Array,
  ): number;
  /** waitid(P_PIDFD, WEXITED | WNOHANG): 1 exited (out: code or -1, signal or 0), 0 running. */
  readonly waitExit: (pidfd: number, out: Int32Array) => number;
  /** kill(2) to `pid`, or to its process group with `group`; pid must be above 1. */
  readonly kill: (pid: number, signal: number, group: boolean) => number;
  readonly constants: NativeConstants;
}

/** The interface version this code was written against (NativeConstants.ABI). */
const ABI = 2;

const FUNCTIONS = [
  'loopOpen',
  'loopRef',
  'ctl',
  'listenTcp',
  'accept',
  'read',
  'readInto',
  'write',
  'writev',
  'sendfile',
  'shutdown',
  'close',
  'setNoDelay',
  'connectTcp',
  'connectUnix',
  'sockError',
  'sockName',
  'peerName',
  'spawn',
  'waitExit',
  'kill',
] as const;

const CONSTANTS = [
  'EPOLLIN',
  'EPOLLOUT',
  'EPOLLRDHUP',
  'EPOLLPRI',
  'EPOLLERR',
  'EPOLLHUP',
  'EPOLLONESHOT',
  'READ_MAX',
  'IOV_MAX',
  'ACCEPT_MAX',
  'CAPACITY_MAX',
  'SENDFILE_MAX',
  'ABI',
] as const;

const ADDON_FILE = path.join('native', 'build', 'Release', 'localhost_native.node');

/** native/build/Release/localhost_native.node in the nearest directory above this module that has one (dist/ and
 *  build/src/ sit at different depths below the repository root). */
function findAddon(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, ADDON_FILE);
    if (fs.existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** Checks the loaded module's shape, so a stale or foreign .node file is a reason, not a crash later. */
function validate(exports: unknown): Result<NativeAddon, string> {
  if (typeof exports !== 'object' || exports === null) return err('the addon exports nothing');
  const rec = exports as Record<string, unknown>;
  for (const name of FUNCTIONS) {
    if (typeof rec[name] !== 'function')
      return err(`the addon lacks ${name}() (a stale build? run npm run build:native)`);
  }
  const c = rec['constants'];
  if (typeof c !== 'object' || c === null) return err('the addon has no constants');
  const consts = c as Record<string, unknown>;
  for (const name of CONSTANTS) {
    if (typeof consts[name] !== 'number') return err(`the addon lacks the constant ${name}`);
  }
  if (consts['ABI'] !== ABI)
    return err(
      `the addon's interface is version ${String(consts['ABI'])}, this code needs ${ABI} (run npm run build:native)`,
    );
  // Every member checked above: the object is what the interface says.
  return ok(exports as NativeAddon);
}

let cached: Result<NativeAddon, string> | null = null;

/**
 * The addon, loaded once; or why it cannot be used. LOCALHOST_NATIVE=0 disables it; LOCALHOST_NATIVE_ADDON names
 * a .node file to use instead of the one found beside the sources.
 */
export function loadAddon(): Result<NativeAddon, string> {
  if (cached !== null) return cached;
  cached = load();
  return cached;
}

function load(): Result<NativeAddon, string> {
  if (process.platform !== 'linux') return err(`the native transport is Linux-only (this is ${process.platform})`);
  if (process.env['LOCALHOST_NATIVE'] === '0') return err('disabled by LOCALHOST_NATIVE=0');
  const named = process.env['LOCALHOST_NATIVE_ADDON'];
  const file = named !== undefined && named !== '' ? path.resolve(named) : findAddon();
  if (file === null) return err(`${ADDON_FILE} not built (npm install builds it when a C compiler is present)`);
  const mod: { exports: unknown } = { exports: {} };
  try {
    // process.dlopen, not require(): an ES module has no require, and node:module is not a runtime dependency here.
    process.dlopen(mod, file, os.constants.dlopen.RTLD_NOW);
  } catch (e) {
    return err(`cannot load ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return validate(mod.exports);
}
