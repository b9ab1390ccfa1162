/**
 * The process side of a CGI run: the script's child and its process group, from launch to reaped. It knows
 * whether the script exited, whether it is reaped, and how to end what is left of its group (docs/ARCHITECTURE.md
 * "CGI": SIGTERM, then SIGKILL REAP_GRACE_MS later, once the response is over; SIGKILL at once on an abort).
 */
import type { Child, ChildEvents, Launcher, LaunchSpec } from '../../server/transport.js';

/** How long what is left of a finished script's process group has between SIGTERM and SIGKILL. */
const REAP_GRACE_MS = 2000;

/** What the process reports to its run, besides the output. */
export interface ProcessOwner {
  log(message: string): void;
  /** Runs `fn` on the timeout sweep's first tick at or after `at`; returns its cancel. */
  timer(at: number, fn: () => void): () => void;
  /** The script exited (before or after the response was over). */
  exited(): void;
  /** The process group is handled and the script reaped: nothing of it is left. */
  settled(): void;
}

/** A launched script and its process group. */
export class ScriptProcess {
  private child: Child | null = null;
  private hasExited = false;
  /** Exited, and every pipe closed ('close'). */
  private reaped = false;
  /** The group got SIGKILL. */
  private killed = false;
  private cancelGrace: (() => void) | null = null;

  constructor(private readonly owner: ProcessOwner) {}

  /** Launches; an error when it cannot start (the events then never fire). */
  launch(launcher: Launcher, spec: LaunchSpec, events: ChildEvents): string | null {
    const started = launcher.launch(spec, events);
    if (!started.ok) return started.error;
    this.child = started.value;
    return null;
  }

  get stdin(): Child['stdin'] {
    return this.child?.stdin ?? null;
  }

  /** Stops reading stdout (backpressure from the client). */
  pauseOutput(): void {
    this.child?.stdout.pause();
  }

  resumeOutput(): void {
    this.child?.stdout.resume();
  }

  /** The script has exited. */
  get exitedAlready(): boolean {
    return this.hasExited;
  }

  /** Nothing of the script is left (reaped, and no SIGKILL pending). */
  get settledAlready(): boolean {
    return this.child === null || (this.reaped && this.cancelGrace === null);
  }

  /** SIGKILL to the whole group at once; our pipe ends are closed so nothing more arrives. Idempotent. */
  kill(): void {
    const child = this.child;
    if (child === null || this.killed) return;
    this.killed = true;
    this.cancelGrace?.();
    this.cancelGrace = null;
    child.killGroup('SIGKILL');
    if (this.reaped) return;
    child.stdin?.destroy();
    child.stdout.destroy();
    child.stderr.destroy();
  }

  /**
   * The response is over and the script has exited: anything still in its process group (children it forked and
   * left behind) gets SIGTERM, and SIGKILL REAP_GRACE_MS later. A child that called setsid() has left the group and
   * is out of reach.
   */
  endGroup(): void {
    const child = this.child;
    if (child === null || this.killed || this.cancelGrace !== null) return;
    child.killGroup('SIGTERM');
    this.cancelGrace = this.owner.timer(Date.now() + REAP_GRACE_MS, () => {
      this.cancelGrace = null;
      this.kill();
      this.settle();
    });
  }

  /** From the child's events: the script exited. */
  onExit(code: number | null, signal: string | null): void {
    this.hasExited = true;
    if (code !== null && code !== 0) this.owner.log(`exited with status ${code}`);
    else if (signal !== null && !this.killed) this.owner.log(`killed by ${signal}`);
    this.owner.exited();
  }

  /** From the child's events: it is reaped. */
  onClose(): void {
    this.reaped = true;
    this.settle();
  }

  private settle(): void {
    if (this.settledAlready) this.owner.settled();
  }
}
