/**
 * The body of a CGI response (a BodySource): what the script writes after its header block, streamed to the
 * client while it takes it, held (in memory, then on disk) while it cannot or before the response has started,
 * and cut to the script's own Content-Length when it gives one.
 */
import type { BodySink, BodySource } from '../../http/response.js';
import { HeldOutput } from './held-output.js';

/** What the output tells its run. */
export interface OutputOwner {
  log(message: string): void;
  /** Stop, or go on, reading the script's stdout (backpressure). */
  pauseStdout(): void;
  resumeStdout(): void;
  /** The body is complete: its Content-Length reached, or stdout ended with all of it sent. */
  outputComplete(): void;
  /** The body cannot be delivered (a spool error, fewer bytes than its Content-Length). */
  outputFailed(status: number): void;
  /** The connection went away mid-body. */
  abort(): void;
}

/** The response body of one script. */
export class CgiOutput implements BodySource {
  private sink: BodySink | null = null;
  private sinkPaused = false;
  private readonly held = new HeldOutput();
  /** Body bytes taken from stdout (capped at the script's Content-Length). */
  private received = 0;
  private overflowLogged = false;
  private stdoutEnded = false;
  private over = false;

  constructor(
    private readonly owner: OutputOwner,
    /** The script's Content-Length, or -1. */
    private readonly length: number,
  ) {}

  /** True once the response has started (a sink is attached). */
  get started(): boolean {
    return this.sink !== null;
  }

  /** A piece of the body from stdout: to the client, or held until it can take it. */
  push(piece: Buffer): void {
    if (this.over) return;
    const cl = this.length;
    let chunk = piece;
    if (cl >= 0 && chunk.length > cl - this.received) {
      if (!this.overflowLogged) this.owner.log('output longer than its Content-Length: the rest is dropped');
      this.overflowLogged = true;
      chunk = chunk.subarray(0, cl - this.received);
    }
    this.received += chunk.length;
    const sink = this.sink;
    if (chunk.length > 0) {
      if (sink === null || this.sinkPaused || !this.held.empty) {
        try {
          if (this.held.hold(chunk) || sink !== null) this.owner.pauseStdout();
        } catch (e) {
          this.owner.log(`cannot hold output: ${String(e)}`);
          this.fail(502);
          return;
        }
      } else if (!sink.push(chunk)) {
        this.pause();
      }
    }
    if (cl >= 0 && this.received === cl && sink !== null && this.held.empty) this.complete();
  }

  /** stdout reached EOF. */
  ended(): void {
    this.stdoutEnded = true;
    if (this.sink !== null && this.held.empty) this.finish();
  }

  start(sink: BodySink): void {
    this.sink = sink;
    this.flush();
  }

  pause(): void {
    this.sinkPaused = true;
    this.owner.pauseStdout();
  }

  resume(): void {
    if (this.over) return;
    this.sinkPaused = false;
    this.flush();
  }

  abort(): void {
    this.owner.abort();
  }

  /** Tells the client the body failed (a truncated response); true when it had started, else nothing is sent. */
  cut(reason: string): boolean {
    const sink = this.sink;
    this.drop();
    if (sink === null) return false;
    sink.fail(reason);
    return true;
  }

  /** No more output is wanted: forget what is held. */
  drop(): void {
    this.over = true;
    this.held.drop();
  }

  /** Replays held output while the client takes it; then completes, or lets stdout flow again. */
  private flush(): void {
    const sink = this.sink;
    if (sink === null || this.over) return;
    try {
      if (!this.held.replay(sink)) this.sinkPaused = true;
    } catch (e) {
      this.owner.log(`cannot replay held output: ${String(e)}`);
      this.fail(502);
      return;
    }
    if (!this.held.empty) return;
    if (this.length >= 0 && this.received === this.length) this.complete();
    else if (this.stdoutEnded) this.finish();
    else if (!this.sinkPaused) this.owner.resumeStdout();
  }

  /** stdout ended with everything pushed: complete, unless it fell short of its Content-Length. */
  private finish(): void {
    if (this.length >= 0 && this.received < this.length) {
      this.owner.log(`output ended after ${this.received} of its ${this.length} Content-Length bytes`);
      this.fail(502);
      return;
    }
    this.complete();
  }

  private complete(): void {
    const sink = this.sink;
    if (sink === null || this.over) return;
    this.drop();
    sink.end();
    this.owner.outputComplete();
  }

  private fail(status: number): void {
    this.owner.outputFailed(status);
  }
}
