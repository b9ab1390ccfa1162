/**
 * The portable launcher: node:child_process behind the Launcher interface. Every child gets its own process
 * group (so a timeout or an abort reaches what it started too), and every group still alive when the server
 * exits is killed (it would outlive us otherwise).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { err, ok, type Result } from '../../lib/result.js';
import type { Child, ChildEvents, Launcher, LaunchSpec, PipeReader, PipeWriter } from '../transport.js';

/** Children not reaped yet, killed if the server exits first. */
const live = new Set<NodeChild>();
let exitHookInstalled = false;

function track(c: NodeChild): void {
  live.add(c);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of live) child.killGroup('SIGKILL');
    });
  }
}

/**
 * Sends `signal` to process group `pgid`. Once the group's leader has been reaped its id may be reused, but Linux
 * allocates no pid number that a live process still has as its group id: so if a process numbered `pgid` exists by
 * then, our group is empty and that process is someone else's.
 */
function signalGroup(pgid: number, signal: NodeJS.Signals, leaderReaped: boolean): void {
  if (leaderReaped && fs.existsSync(`/proc/${pgid}`)) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nobody left
  }
}

const ignore = (): void => undefined;

/** One child of the portable launcher. */
class NodeChild implements Child {
  readonly stdin: PipeWriter | null;
  readonly stdout: PipeReader;
  readonly stderr: PipeReader;
  /** The leader has exited ('exit'): its pid, the group's id, may be reused once the group is empty. */
  private exited = false;

  constructor(
    proc: ChildProcess,
    readonly pid: number,
    events: ChildEvents,
  ) {
    proc.on('error', (e: Error) => events.onSpawnError(e.message));
    proc.on('exit', (code, signal) => {
      this.exited = true;
      events.onExit(code, signal);
    });
    proc.on('close', () => {
      live.delete(this);
      events.onClose();
    });
    // After a spawn that failed with EMFILE, Node leaves the stdio streams undefined (the 'error' event reports it).
    const input = proc.stdin ?? null;
    if (input !== null) {
      input.on('drain', () => events.onStdinDrain());
      // EPIPE or close: a script may exit without reading its input; that is not an error.
      const gone = (): void => events.onStdinDrain();
      input.on('error', gone);
      input.on('close', gone);
    }
    this.stdin =
      input === null ? null : { write: (d) => input.write(d), end: () => input.end(), destroy: () => input.destroy() };
    const out = proc.stdout ?? null;
    out?.on('data', (d: Buffer) => events.onStdout(d));
    out?.on('end', () => events.onStdoutEnd());
    out?.on('error', ignore);
    const errs = proc.stderr ?? null;
    errs?.on('data', (d: Buffer) => events.onStderr(d));
    errs?.on('end', () => events.onStderrEnd());
    errs?.on('error', ignore);
    this.stdout = { pause: () => out?.pause(), resume: () => out?.resume(), destroy: () => out?.destroy() };
    this.stderr = { pause: () => errs?.pause(), resume: () => errs?.resume(), destroy: () => errs?.destroy() };
  }

  killGroup(signal: 'SIGTERM' | 'SIGKILL'): void {
    signalGroup(this.pid, signal, this.exited);
  }
}

/** Starts children with child_process.spawn (which forks the Node process: see issue 15's native launcher). */
export class NodeLauncher implements Launcher {
  /** Entries 3 and up of every child's stdio: /dev/null over each descriptor in `hidden`. */
  private readonly cover: ('ignore' | number)[] = [];

  /**
   * `hidden`: descriptors of this process a child must not inherit although they lack close-on-exec (a worker's
   * listening sockets, inherited from the master: a script holding one would keep the port open after the
   * server). libuv's spawn closes nothing, so each is covered with /dev/null in the child (dup2 over it).
   */
  constructor(hidden: readonly number[] = []) {
    if (hidden.length === 0) return;
    const devNull = fs.openSync('/dev/null', 'r'); // close-on-exec here (libuv opens with O_CLOEXEC); kept open
    for (let fd = 3; fd <= Math.max(...hidden); fd++) this.cover.push(hidden.includes(fd) ? devNull : 'ignore');
  }

  launch(spec: LaunchSpec, events: ChildEvents): Result<Child, string> {
    let proc: ChildProcess;
    try {
      proc = spawn(spec.file, [...spec.args], {
        cwd: spec.cwd,
        env: spec.env,
        detached: true, // its own process group
        stdio: [spec.stdin === 'null' ? 'ignore' : spec.stdin, 'pipe', 'pipe', ...this.cover],
      });
    } catch (e) {
      return err(e instanceof Error ? e.message : String(e));
    }
    if (proc.pid === undefined) {
      // The failure arrives as 'error' on the next turn: report it as an error now instead, and drop the rest.
      proc.on('error', ignore);
      return err('the process could not be started');
    }
    const child = new NodeChild(proc, proc.pid, events);
    track(child);
    return ok(child);
  }
}
