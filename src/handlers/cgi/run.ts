/**
 * One CGI script execution (RFC 3875), as a state machine:
 *
 *   spooling ──body in──▶ awaitingHeaders ──headers + body in──▶ streaming ──output done──▶ finishing ──▶ done
 *        └──────────────────────┴─── failure, timeout, abandon ──────┴───────────────────────▲
 *
 * The request body reaches the script through ScriptInput (input.ts), the response body goes out through CgiOutput
 * (output.ts), and the script and its process group end as ScriptProcess (process.ts) says. The response is sent
 * only once the whole request body was read, so an early answer never cuts an upload short.
 */
import { countCgiFailure, countCgiRun } from '../../server/metrics.js';
import type { ChildEvents } from '../../server/transport.js';
import { streamedResponse } from '../compression.js';
import { errorResponse } from '../error-page.js';
import type { BodyReceiver, Exchange } from '../exchange.js';
import { cgiEnvironment, cgiRequest } from './env.js';
import { CgiHeaderScanner, type CgiHead } from './headers.js';
import { CgiOutput, type OutputOwner } from './output.js';
import { ScriptProcess, type ProcessOwner } from './process.js';
import type { CgiScript } from './script.js';
import { ScriptInput } from './input.js';
import { applySessionHeaders } from './session.js';
import { closeQuietly } from './spool.js';
import { StderrLog } from './stderr-log.js';

/** The phases of a run, and the moves between them. */
type Phase = 'spooling' | 'awaitingHeaders' | 'streaming' | 'finishing' | 'done';
const NEXT: Readonly<Record<Phase, readonly Phase[]>> = {
  spooling: ['awaitingHeaders', 'finishing'],
  awaitingHeaders: ['streaming', 'finishing'],
  streaming: ['finishing'],
  finishing: ['done'],
  done: [],
};

/** A running script: the request body's receiver, its child's events, and the owner of its output. */
export class CgiRun implements BodyReceiver, ChildEvents, ProcessOwner, OutputOwner {
  private phase: Phase = 'awaitingHeaders';
  private readonly proc = new ScriptProcess(this);
  private readonly input = new ScriptInput();
  private readonly scanner = new CgiHeaderScanner();
  private head: CgiHead | null = null;
  /** The session store is taking the head's session change (deliver runs once). */
  private committing = false;
  /** The response body, once the header block is in. */
  private output: CgiOutput | null = null;
  /** The whole request body was received (or there is none). */
  private bodyIn = false;
  private cancelTimeout: (() => void) | null = null;
  private readonly stderrLog = new StderrLog((m) => this.log(m));

  constructor(
    private readonly ex: Exchange,
    private readonly script: CgiScript,
  ) {}

  /** Starts the run; returns the receiver of the request body, or null when there is none. */
  begin(): BodyReceiver | null {
    // A client that leaves before the script answered must not leave the script running until cgi_timeout.
    this.ex.onAbandon(() => this.abort());
    const h = this.ex.head;
    if (h.chunked) {
      try {
        this.input.startSpool();
      } catch (e) {
        this.log(`cannot spool the request body: ${String(e)}`);
        this.fail(500);
        return null;
      }
      this.phase = 'spooling';
      return this;
    }
    if (h.contentLength > 0) {
      this.launch('pipe', h.contentLength);
      return this.phase === 'awaitingHeaders' ? this : null;
    }
    this.bodyIn = true;
    this.launch('null', h.contentLength >= 0 ? 0 : null);
    return null;
  }

  private move(next: Phase): void {
    if (!NEXT[this.phase].includes(next)) throw new Error(`cgi run: illegal move ${this.phase} → ${next}`);
    this.phase = next;
  }

  log(message: string): void {
    this.ex.logError(`cgi ${this.script.scriptName}: ${message}`);
  }
  timer(at: number, fn: () => void): () => void {
    return this.ex.timer(at, fn);
  }

  /** Starts the script; stdin is a pipe (streamed body), null, or a spool descriptor. */
  private launch(stdin: 'pipe' | 'null' | number, contentLength: number | null): void {
    const env = cgiEnvironment(cgiRequest(this.ex), this.script, contentLength);
    const { file, interpreter } = this.script;
    const cwd = file.slice(0, file.lastIndexOf('/')) || '/';
    countCgiRun();
    const failed = this.proc.launch(this.ex.launcher, { file: interpreter, args: [file], cwd, env, stdin }, this);
    if (failed !== null) {
      this.onSpawnError(failed);
      return;
    }
    if (stdin === 'pipe') this.input.attach(this.proc.stdin);
    if (this.bodyIn) this.armTimeout();
  }

  // ─── The request body (BodyReceiver) ──

  data(chunk: Buffer): boolean {
    try {
      return this.input.data(chunk);
    } catch (e) {
      this.log(`cannot spool the request body: ${String(e)}`);
      this.fail(500);
      return true;
    }
  }

  end(): void {
    this.bodyIn = true;
    const spool = this.phase === 'spooling' ? this.input.takeSpool() : null;
    if (spool !== null) {
      this.move('awaitingHeaders');
      this.launch(spool.rfd, spool.size);
      closeQuietly(spool.wfd); // the script holds its own copy of the read descriptor
      closeQuietly(spool.rfd);
      return;
    }
    if (this.phase !== 'awaitingHeaders') return;
    this.input.end();
    if (this.head !== null) this.deliver();
    else this.armTimeout(); // the script now has the whole body: its time for the headers starts
  }

  onStdinDrain(): void {
    if (this.input.drained()) this.ex.resumeBody();
  }

  // ─── The script's output ──

  onStdout(chunk: Buffer): void {
    if (this.phase !== 'awaitingHeaders' && this.phase !== 'streaming') return;
    if (this.output !== null) {
      this.output.push(chunk);
      return;
    }
    const r = this.scanner.push(chunk);
    if (r.kind === 'more') return;
    if (r.kind === 'error') {
      this.log(`bad header block: ${r.error.message}`);
      countCgiFailure('header');
      this.fail(502);
      return;
    }
    this.head = r.head;
    this.output = new CgiOutput(this, r.head.contentLength);
    this.clearTimeout();
    if (r.rest.length > 0) this.output.push(r.rest);
    if (this.bodyIn && this.phase === 'awaitingHeaders') this.deliver();
  }

  onStdoutEnd(): void {
    if (this.output !== null) {
      this.output.ended();
    } else if (this.phase === 'awaitingHeaders') {
      this.log('output ended before a complete header block');
      countCgiFailure('header');
      this.fail(502);
    }
  }

  onStderr(chunk: Buffer): void {
    this.stderrLog.push(chunk);
  }
  onStderrEnd(): void {
    this.stderrLog.flush();
  }

  /** Headers are in and so is the request body: apply the session headers, then answer. */
  private deliver(): void {
    const h = this.head;
    const output = this.output;
    if (h === null || output === null || this.committing) return;
    this.committing = true;
    applySessionHeaders(
      this.ex,
      h,
      (m) => this.log(m),
      (ok) => {
        if (this.phase !== 'awaitingHeaders') return; // the client left while the session store answered
        if (ok) this.answer(h, output);
        else this.fail(503);
      },
    );
  }

  private answer(h: CgiHead, output: CgiOutput): void {
    if (h.localRedirect && h.location !== null) {
      this.stop();
      this.ex.reroute(h.location);
      return;
    }
    this.move('streaming');
    // Compressed as it streams where the location says so (README "Compression").
    const comp = this.ex.location?.compression;
    this.ex.respond(streamedResponse(comp, this.ex.head.headers, h.status, h.headers, output, h.contentLength));
  }

  // ─── The response body (OutputOwner) ──

  pauseStdout(): void {
    this.proc.pauseOutput();
  }
  resumeStdout(): void {
    this.proc.resumeOutput();
  }
  outputFailed(status: number): void {
    this.fail(status);
  }

  /** The response body is complete. The script may still be finishing: its output is discarded from now on, it is
   *  killed if it has not exited within cgi_timeout, and once it has exited its group is ended. */
  outputComplete(): void {
    if (this.phase !== 'streaming') return;
    this.move('finishing');
    this.proc.resumeOutput(); // read on to the end, so that the pipe closes
    if (this.proc.exitedAlready) this.proc.endGroup();
    else this.armTimeout();
  }

  // ─── Ending ──

  abort(): void {
    this.stop();
  }

  /** Fails the exchange: an error page when nothing was sent yet, else a cut connection. Kills the script. */
  private fail(status: number): void {
    if (this.phase === 'finishing' || this.phase === 'done') return;
    const output = this.output;
    this.stop();
    if (output?.cut(`cgi ${this.script.scriptName} failed`) !== true)
      this.ex.respond(errorResponse(this.ex.server, status));
  }

  /** No more output is wanted: SIGKILL the group, release the spool and the held output. Idempotent. */
  private stop(): void {
    if (this.phase !== 'finishing' && this.phase !== 'done') this.move('finishing');
    this.output?.drop();
    this.clearTimeout();
    this.stderrLog.flush();
    this.proc.kill();
    this.input.close();
    if (this.proc.settledAlready) this.settled();
  }

  /** The cgi_timeout deadline: for the header block, or, after the response, for the script to exit. */
  private armTimeout(): void {
    this.clearTimeout();
    const ms = this.ex.server.timeouts.cgi;
    this.cancelTimeout = this.ex.timer(Date.now() + ms, () => {
      this.cancelTimeout = null;
      if (this.phase === 'awaitingHeaders' || this.phase === 'spooling') {
        this.log(`no complete header block within ${ms} ms: killed`);
        countCgiFailure('timeout');
        this.fail(504);
      } else {
        this.log('still running after its response: killed');
        this.proc.kill();
      }
    });
  }

  private clearTimeout(): void {
    this.cancelTimeout?.();
    this.cancelTimeout = null;
  }

  // ─── The process (ChildEvents, ProcessOwner) ──

  onSpawnError(reason: string): void {
    this.log(`cannot run ${this.script.interpreter}: ${reason}`);
    countCgiFailure('spawn');
    this.fail(502);
  }

  onExit(code: number | null, signal: string | null): void {
    this.proc.onExit(code, signal);
  }

  onClose(): void {
    this.stderrLog.flush();
    this.proc.onClose();
  }

  /** ProcessOwner: the script exited; after its response, what it left in its group goes. */
  exited(): void {
    if (this.phase !== 'finishing') return;
    this.clearTimeout();
    this.proc.endGroup(); // nothing if the group was killed already
  }

  /** ProcessOwner: nothing of the script is left. */
  settled(): void {
    if (this.phase !== 'finishing') return;
    this.clearTimeout();
    this.move('done');
  }
}
