/**
 * A Launcher whose children the test scripts: nothing is started, the test makes each child write to stdout or
 * stderr, end them, exit and close, and reads back what was sent to it (stdin bytes, signals to its group, pauses of
 * its stdout). Events go to the ChildEvents given to launch(), synchronously, when the test says so.
 */
import * as fs from 'node:fs';
import { err, ok, type Result } from '../../src/lib/result.js';
import type { Child, ChildEvents, Launcher, LaunchSpec, PipeReader, PipeWriter } from '../../src/server/transport.js';

/** The writing end of a child's stdin, as the server sees it. */
export class FakeStdin implements PipeWriter {
  /** Every chunk written, copied. */
  readonly chunks: Buffer[] = [];
  /** write() answers this (false: past the high-water mark, wait for onStdinDrain). */
  accepts = true;
  ended = false;
  destroyed = false;

  write(data: Buffer): boolean {
    if (this.ended || this.destroyed) throw new Error('FakeStdin: write after end/destroy');
    this.chunks.push(Buffer.from(data));
    return this.accepts;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** Everything written, joined. */
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** The reading end of a child's stdout or stderr. */
export class FakePipe implements PipeReader {
  paused = false;
  destroyed = false;
  /** pause() calls so far. */
  pauses = 0;
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** One scripted child. */
export class FakeChild implements Child {
  readonly stdin: FakeStdin | null;
  readonly stdout = new FakePipe();
  readonly stderr = new FakePipe();
  /** Signals sent to the child's group, in order. */
  readonly signals: ('SIGTERM' | 'SIGKILL')[] = [];
  /** What a descriptor given as stdin held when the child was launched (a spooled body), else null. */
  readonly stdinFromFd: Buffer | null;
  exited = false;
  reaped = false;

  constructor(
    readonly pid: number,
    readonly spec: LaunchSpec,
    readonly events: ChildEvents,
  ) {
    this.stdin = spec.stdin === 'pipe' ? new FakeStdin() : null;
    this.stdinFromFd = typeof spec.stdin === 'number' ? readWhole(spec.stdin) : null;
  }

  killGroup(signal: 'SIGTERM' | 'SIGKILL'): void {
    this.signals.push(signal);
  }

  // ─── What the test makes the child do ──

  /** Writes to stdout; false (and nothing delivered) when the server has destroyed its end. */
  out(data: string | Buffer): boolean {
    if (this.stdout.destroyed) return false;
    this.events.onStdout(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
    return true;
  }
  /** stdout reaches EOF (nothing when the server destroyed its end). */
  outEnd(): void {
    if (!this.stdout.destroyed) this.events.onStdoutEnd();
  }
  err(data: string): boolean {
    if (this.stderr.destroyed) return false;
    this.events.onStderr(Buffer.from(data, 'utf8'));
    return true;
  }
  errEnd(): void {
    if (!this.stderr.destroyed) this.events.onStderrEnd();
  }
  /** stdin drained after a write returned false (or closed because the child stopped reading). */
  stdinDrain(): void {
    if (this.stdin !== null) this.stdin.accepts = true;
    this.events.onStdinDrain();
  }
  exit(code: number | null = 0, signal: string | null = null): void {
    this.exited = true;
    this.events.onExit(code, signal);
  }
  /** Exited and every pipe closed: reaped. */
  close(): void {
    this.reaped = true;
    this.events.onClose();
  }
  spawnError(reason: string): void {
    this.events.onSpawnError(reason);
  }
  /** The usual end of a script: stdout and stderr end, it exits with `code`, and is reaped. */
  finish(code = 0): void {
    this.outEnd();
    this.errEnd();
    this.exit(code);
    this.close();
  }
}

/** Starts FakeChild children. */
export class FakeLauncher implements Launcher {
  /** Every child launched, in order. */
  readonly children: FakeChild[] = [];
  /** When set, the next launch() fails at once with this reason. */
  failNext: string | null = null;
  private nextPid = 4242;

  launch(spec: LaunchSpec, events: ChildEvents): Result<Child, string> {
    const reason = this.failNext;
    if (reason !== null) {
      this.failNext = null;
      return err(reason);
    }
    const child = new FakeChild(this.nextPid++, spec, events);
    this.children.push(child);
    return ok(child);
  }

  /** The only child launched (fails when there is not exactly one). */
  get child(): FakeChild {
    if (this.children.length !== 1) throw new Error(`FakeLauncher: ${this.children.length} children, not one`);
    const c = this.children[0];
    if (c === undefined) throw new Error('unreachable');
    return c;
  }

  /** The last child launched. */
  get last(): FakeChild {
    const c = this.children[this.children.length - 1];
    if (c === undefined) throw new Error('FakeLauncher: nothing launched');
    return c;
  }
}

/** The whole content of an open descriptor, read from offset 0 (the caller keeps and closes it). */
function readWhole(fd: number): Buffer {
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(size);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}
