/**
 * NativeLauncher: starts CGI children with posix_spawn (glibc's clone(CLONE_VM | CLONE_VFORK): the Node process
 * is not copied), in their own session and process group, with pipes on the native loop and the exit learnt from a pidfd in
 * the same epoll set (waitid(P_PIDFD) reaps exactly this child, never one of libuv's).
 *
 * It implements the Launcher seam of src/server/transport.ts. Because posix_spawn reports exec failures itself, a
 * missing interpreter, a script that is not executable or a working directory that does not exist are an error
 * Result at once; onSpawnError is never needed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { err, ok, type Result } from '../../lib/result.js';
import type { Child, ChildEvents, LaunchSpec, Launcher, PipeReader, PipeWriter } from '../transport.js';
import { errnoName, type LoopHandler, type NativeLoop } from './loop.js';
import { NativeStream, type NativeStreamOptions } from './stream.js';

const STDIN_PIPE = -1;
const STDIN_NULL = -2;

/** Signal numbers to names ("SIGTERM"), from the running system. */
const SIGNAL_NAMES = new Map<number, string>(Object.entries(os.constants.signals).map(([name, n]) => [n, name]));

/** Starts children with posix_spawn. */
export class NativeLauncher implements Launcher {
  /** Children started and not yet closed: their groups are killed if the server exits first (they would
   *  outlive it otherwise), as the node launcher does. */
  private readonly children = new Set<NativeChild>();
  private exitHook: (() => void) | null = null;

  /** Children started and not yet closed. */
  get live(): number {
    return this.children.size;
  }

  constructor(
    private readonly loop: NativeLoop,
    private readonly options: NativeStreamOptions = {},
  ) {}

  /** Starts `spec.file` with `spec.args`, exactly `spec.env` and `spec.cwd`; an error Result when it cannot. */
  launch(spec: LaunchSpec, events: ChildEvents): Result<Child, string> {
    const file = resolveFile(spec.file, spec.env['PATH']);
    if (file === null) return err(`cannot run ${spec.file}: ENOENT (not found in PATH)`);
    const envp: string[] = [];
    for (const [k, v] of Object.entries(spec.env)) {
      if (k === '' || k.includes('='))
        return err(`cannot run ${spec.file}: invalid environment name ${JSON.stringify(k)}`);
      envp.push(`${k}=${v}`);
    }
    const stdin = spec.stdin === 'pipe' ? STDIN_PIPE : spec.stdin === 'null' ? STDIN_NULL : spec.stdin;
    if (typeof stdin !== 'number' || !Number.isInteger(stdin) || stdin < STDIN_NULL)
      return err(`cannot run ${spec.file}: bad stdin`);
    const out = new Int32Array(5);
    const rc = this.loop.addon.spawn(file, [spec.file, ...spec.args], envp, spec.cwd, stdin, out);
    if (rc < 0) return err(`cannot run ${spec.file}: ${errnoName(rc)}`);
    const [pid = 0, pidfd = -1, inFd = -1, outFd = -1, errFd = -1] = out;
    const child = new NativeChild(this, this.loop, pid, pidfd, inFd, outFd, errFd, events, this.options);
    this.children.add(child);
    if (this.exitHook === null) {
      const hook = (): void => {
        for (const c of this.children) c.killGroup('SIGKILL');
      };
      this.exitHook = hook;
      process.once('exit', hook);
    }
    return ok(child);
  }

  /** Called by a child once it is closed. */
  released(child: NativeChild): void {
    this.children.delete(child);
  }
}

/** `file` itself when it has a slash (as execve wants); else the first executable match along `searchPath`. */
function resolveFile(file: string, searchPath: string | undefined): string | null {
  if (file.includes('/')) return file;
  if (file === '') return null;
  for (const dir of (searchPath ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const candidate = path.join(dir === '' ? '.' : dir, file);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** A running child: pidfd for its exit, pipes for its stdio. */
class NativeChild implements Child, LoopHandler {
  readonly stdin: PipeWriter | null;
  readonly stdout: PipeReader;
  readonly stderr: PipeReader;

  private pidGen = 0;
  private exited = false;
  private closed = false;
  private openPipes = 0;
  private readonly status = new Int32Array(2);
  private readonly inPipe: ChildStdin | null;

  constructor(
    private readonly launcher: NativeLauncher,
    private readonly loop: NativeLoop,
    readonly pid: number,
    private readonly pidfd: number,
    inFd: number,
    outFd: number,
    errFd: number,
    private readonly events: ChildEvents,
    options: NativeStreamOptions,
  ) {
    this.inPipe = inFd >= 0 ? new ChildStdin(loop, inFd, this, options) : null;
    this.stdin = this.inPipe;
    this.stdout = new ChildOutput(loop, outFd, this, 'stdout');
    this.stderr = new ChildOutput(loop, errFd, this, 'stderr');
    this.openPipes = 2;
    const gen = loop.register(pidfd, loop.addon.constants.EPOLLIN, this);
    if (gen < 0) {
      // Its exit cannot be waited for in the epoll set (no memory for the registration): stop it, and poll its
      // pidfd on a timer until it is reaped, so neither a zombie nor a descriptor is left behind.
      loop.addon.kill(pid, os.constants.signals.SIGKILL, true);
      this.reapLater();
    } else {
      this.pidGen = gen;
    }
  }

  private reapLater(): void {
    setTimeout(() => {
      const r = this.loop.addon.waitExit(this.pidfd, this.status);
      if (r === 0) this.reapLater();
      else this.reaped(r);
    }, 10);
  }

  /** Sends `signal` to the child's process group, also after the child is closed (a grandchild that ignored
   *  SIGTERM is still in it). Once the leader is reaped its pid may be reused, but Linux allocates no pid that a
   *  live process still has as its group id: a process numbered `pid` then means our group is empty. */
  killGroup(signal: 'SIGTERM' | 'SIGKILL'): void {
    if (this.exited && fs.existsSync(`/proc/${this.pid}`)) return;
    // ESRCH (the whole group is gone already) is the only failure possible for our own child: nothing to do.
    this.loop.addon.kill(this.pid, os.constants.signals[signal], true);
  }

  /** pidfd readable: the child has exited. */
  onEvents(): void {
    if (this.exited) return;
    const r = this.loop.addon.waitExit(this.pidfd, this.status);
    if (r === 0) return; // spurious
    this.reaped(r);
  }

  private reaped(r: number): void {
    this.exited = true;
    if (this.pidGen !== 0) this.loop.close(this.pidfd, this.pidGen, true);
    else this.loop.addon.close(this.pidfd, false);
    let code: number | null = null;
    let signal: string | null = null;
    if (r === 1) {
      const c = this.status[0] ?? -1;
      const s = this.status[1] ?? 0;
      if (c >= 0) code = c;
      else signal = SIGNAL_NAMES.get(s) ?? `SIG${s}`;
    }
    // r < 0 (ECHILD: someone else reaped it) leaves both null: it is gone, how is unknown.
    // Nobody reads the pipe any more: stdin goes (a writer waiting for drain hears onStdinDrain).
    this.inPipe?.childGone();
    this.events.onExit(code, signal);
    this.maybeClose();
  }

  /** A stdout or stderr pipe closed. */
  pipeClosed(): void {
    this.openPipes--;
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.closed || !this.exited || this.openPipes > 0) return;
    this.closed = true;
    this.launcher.released(this);
    this.events.onClose();
  }

  /** Owner callbacks, for the pipes. */
  get on(): ChildEvents {
    return this.events;
  }
}

/** The child's stdout or stderr: read until EOF, then closed. */
class ChildOutput extends NativeStream implements PipeReader {
  constructor(
    loop: NativeLoop,
    fd: number,
    private readonly child: NativeChild,
    private readonly which: 'stdout' | 'stderr',
  ) {
    super(loop, fd, true);
    if (this.register() < 0) this.destroyNow();
  }
  protected emitData(chunk: Buffer): void {
    if (this.which === 'stdout') this.child.on.onStdout(chunk);
    else this.child.on.onStderr(chunk);
  }
  protected emitEnd(): void {
    if (this.which === 'stdout') this.child.on.onStdoutEnd();
    else this.child.on.onStderrEnd();
    this.destroyNow(); // nothing more can come
  }
  protected emitDrain(): void {}
  protected emitClose(): void {
    this.child.pipeClosed();
  }
  protected finishWriting(): void {}
}

/** The child's stdin: queued writes, closed by end() once written. */
class ChildStdin extends NativeStream implements PipeWriter {
  private gone = false;

  constructor(
    loop: NativeLoop,
    fd: number,
    private readonly child: NativeChild,
    options: NativeStreamOptions,
  ) {
    super(loop, fd, false, options);
    // Registered with no interest: EPOLLERR still says when the child closes its end.
    if (this.register() < 0) this.destroyNow();
  }

  /** The child exited: nobody will read what is queued. */
  childGone(): void {
    if (this.destroyed) return;
    this.gone = true;
    this.destroyNow();
  }

  protected override onFailure(): void {
    // EPOLLERR or EPIPE: the child closed its stdin (or exited); the owner learns it through onStdinDrain.
    this.gone = true;
    this.destroyNow();
  }
  protected emitData(): void {}
  protected emitEnd(): void {}
  protected emitDrain(): void {
    this.child.on.onStdinDrain();
  }
  protected emitClose(): void {
    if (this.gone) this.child.on.onStdinDrain();
  }
  protected finishWriting(): void {
    this.destroyNow();
  }
}
