/**
 * The CGI/1.1 gateway (RFC 3875, DESIGN §6-§7): a request whose path names a file with a configured extension runs
 * `INTERPRETER SCRIPT` in the script's directory, in its own process group, with the CGI variables as its whole
 * environment. Everything is non-blocking: the body streams to stdin and stdout streams to the client, each paced
 * by the other side (backpressure both ways).
 *
 * Request bodies: one with a Content-Length streams to stdin as it arrives. A chunked one is spooled to an
 * unlinked temporary file first, as NGINX buffers bodies for FastCGI, because scripts need CONTENT_LENGTH
 * (php-cgi reads nothing without it); the script then starts with that file as its stdin. Either way the
 * response is sent only once the whole request body was read, so an early answer never cuts the upload short.
 *
 * A local redirect (`Location: /path`, no Status, RFC 3875 §6.2.2) is served internally as a GET of that path
 * (at most MAX_INTERNAL_REDIRECTS deep), as Apache does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LocationConfig } from '../config/types.js';
import type { RequestHead } from '../http/request.js';
import { SERVER_NAME, type BodySink, type BodySource, type Response } from '../http/response.js';
import { plan } from '../router/dispatch.js';
import { CgiHeaderScanner, type CgiHead } from './cgi-headers.js';
import { errorResponse } from './error-page.js';
import type { BodyReceiver, Exchange } from './exchange.js';
import { fsErrorResponse, insideRoot } from './confine.js';

/** A script to run for a request, found by `findScript`. */
export interface CgiScript {
  /** Absolute path of the script (it may not exist: serveCgi answers 404 then). */
  readonly file: string;
  /** URL path of the script (SCRIPT_NAME). */
  readonly scriptName: string;
  /** The rest of the URL path after the script ("" or starting with "/"). */
  readonly pathInfo: string;
  /** Absolute path of the interpreter configured for the extension. */
  readonly interpreter: string;
  /** The location's root (DOCUMENT_ROOT, base of PATH_TRANSLATED). */
  readonly root: string;
}

/** Script output held in memory before the response starts; beyond it, held output spills to a file. */
const PENDING_MAX = 64 * 1024;
/** Held output kept on disk at most; stdout pauses beyond it. */
const OUTPUT_SPOOL_MAX = 256 * 1024 * 1024;
/** Largest read from the output spool at once (DESIGN §2). */
const READ_CHUNK = 64 * 1024;
/** stderr bytes written to the error log per script, and the longest line kept. */
const STDERR_BUDGET = 16 * 1024;
const STDERR_LINE_MAX = 1024;
/** Internal redirects one request may go through (Apache's LimitInternalRecursion). */
const MAX_INTERNAL_REDIRECTS = 10;
/** PATH for scripts when the server has none. */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

// ─── Finding the script ───────────────────────────────────────────────────────────────────────────────────────

/** The interpreter for a file name by its extension (case-insensitive), or null. */
function interpreterFor(loc: LocationConfig, name: string): string | null {
  const lower = name.toLowerCase();
  for (const [ext, interpreter] of loc.cgi) {
    if (lower.length > ext.length && lower.endsWith(ext)) return interpreter;
  }
  return null;
}

function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null; // ENOTDIR, EACCES...: not a script we can use; serveCgi reports the precise status
  }
}

/**
 * The script a request path names, walking its segments after the location prefix: the first segment with a
 * configured extension that is not a directory is the script, the rest of the path is PATH_INFO (RFC 3875 §4.1.5).
 * Such a segment that names no file still yields a script, so that serveCgi answers 404. A directory URL ("/")
 * whose `default_file` has a configured extension runs that file. Null: not a CGI request.
 */
export function findScript(loc: LocationConfig, root: string, urlPath: string): CgiScript | null {
  const prefix = loc.path === '/' ? '' : loc.path;
  const segs = urlPath.slice(prefix.length).split('/');
  const base = root.endsWith('/') && root.length > 1 ? root.slice(0, -1) : root;
  let url = prefix;
  let file = base;
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i]!;
    url += '/' + seg;
    file += '/' + seg;
    if (seg === '') continue;
    const interpreter = interpreterFor(loc, seg);
    if (interpreter === null) continue;
    if (statOrNull(file)?.isDirectory() === true) continue;
    const pathInfo = i + 1 < segs.length ? '/' + segs.slice(i + 1).join('/') : '';
    return { file, scriptName: url, pathInfo, interpreter, root };
  }
  if (urlPath.endsWith('/') && loc.defaultFile !== null) {
    const interpreter = interpreterFor(loc, loc.defaultFile);
    const index = (file.endsWith('/') ? file : file + '/') + loc.defaultFile;
    if (interpreter !== null && statOrNull(index)?.isFile() === true) {
      return { file: index, scriptName: urlPath + loc.defaultFile, pathInfo: '', interpreter, root };
    }
  }
  return null;
}


// ─── The environment (RFC 3875 §4.1) ─────────────────────────────────────────────────────────────────────────

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Header values arrive as latin1 (one char per byte) but Node encodes environment strings as UTF-8: re-decoding
 * valid UTF-8 makes the script see the bytes the client sent; other non-ASCII bytes are passed as latin1 chars.
 */
function envText(s: string): string {
  if (!/[^\x00-\x7f]/.test(s)) return s;
  try {
    return strictUtf8.decode(Buffer.from(s, 'latin1'));
  } catch {
    return s;
  }
}

/** Header fields that never become HTTP_* variables: those with their own variable, the de-chunked framing, and
 *  `Proxy`, which would set HTTP_PROXY, a proxy setting for the script's own requests (httpoxy, CVE-2016-5385). */
const NOT_PASSED = new Set(['content-type', 'content-length', 'transfer-encoding', 'proxy']);

/**
 * The whole environment of a script: the RFC 3875 meta-variables, SCRIPT_FILENAME, REQUEST_URI, DOCUMENT_ROOT and
 * REDIRECT_STATUS=200 (php-cgi refuses to run without it), PATH, and SESSION_ID/SESSION_DATA when the location has
 * sessions. `contentLength` is the body's length, null when the request has no body. Nothing of the server's own
 * environment leaks in.
 */
export function cgiEnvironment(ex: Exchange, script: CgiScript, contentLength: number | null): Record<string, string> {
  const h = ex.head;
  const env: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: SERVER_NAME,
    SERVER_NAME: h.host !== '' ? h.host : ex.server.serverNames[0] ?? ex.localAddress,
    SERVER_PORT: String(ex.localPort),
    SERVER_PROTOCOL: `HTTP/1.${h.minor}`,
    REQUEST_METHOD: h.method,
    SCRIPT_NAME: script.scriptName,
    QUERY_STRING: envText(h.query),
    REMOTE_ADDR: ex.remoteAddress,
    REMOTE_PORT: String(ex.remotePort),
    SCRIPT_FILENAME: script.file,
    REQUEST_URI: envText(h.target.startsWith('/') ? h.target : h.rawPath + (h.query !== '' ? '?' + h.query : '')),
    DOCUMENT_ROOT: script.root,
    REDIRECT_STATUS: '200',
    PATH: process.env['PATH'] ?? DEFAULT_PATH,
  };
  // §4.1.5, §4.1.6: both unset when there is no path info.
  if (script.pathInfo !== '') {
    env['PATH_INFO'] = script.pathInfo;
    env['PATH_TRANSLATED'] = script.root + script.pathInfo;
  }
  const type = h.headers.get('content-type');
  if (type !== undefined) env['CONTENT_TYPE'] = envText(type);
  if (contentLength !== null) env['CONTENT_LENGTH'] = String(contentLength);
  // §4.1.18. Names holding anything but letters, digits and "-" are skipped: "X_A" and "X-A" would both become
  // HTTP_X_A, which lets a client spoof a header a front proxy sets (NGINX ignores such names too).
  for (const [name, value] of h.headers) {
    if (NOT_PASSED.has(name) || !/^[a-z0-9-]+$/.test(name)) continue;
    env['HTTP_' + name.toUpperCase().replace(/-/g, '_')] = envText(value);
  }
  const session = ex.session();
  if (session !== null) {
    env['SESSION_ID'] = session.id;
    env['SESSION_DATA'] = session.data;
  }
  return env;
}

// ─── Running a script ─────────────────────────────────────────────────────────────────────────────────────────

/** Runs still alive, killed if the server process exits (their own process groups would outlive it). */
const live = new Set<CgiRun>();
let exitHookInstalled = false;

function track(run: CgiRun): void {
  live.add(run);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const r of live) r.kill();
    });
  }
}

/** A chunked request body spooled to an unlinked temporary file: written through `wfd`, read by the script from `rfd`. */
interface Spool {
  wfd: number;
  rfd: number;
  size: number;
}

/** Script output held on disk until the client can take it: written at `size`, read back from `readPos`. */
interface OutputSpool {
  fd: number;
  size: number;
  readPos: number;
}

const tempName = (): string => path.join(os.tmpdir(), `localhost-cgi-${process.pid}-${randomBytes(8).toString('hex')}`);

function openSpool(): Spool {
  const file = tempName();
  const wfd = fs.openSync(file, 'wx', 0o600);
  let rfd = -1;
  try {
    rfd = fs.openSync(file, 'r');
  } finally {
    // Unlinked at once: the open descriptors keep it readable, and nothing is left behind whatever happens.
    fs.unlinkSync(file);
    if (rfd < 0) fs.closeSync(wfd);
  }
  return { wfd, rfd, size: 0 };
}

function openOutputSpool(): OutputSpool {
  const file = tempName();
  const fd = fs.openSync(file, 'wx+', 0o600);
  fs.unlinkSync(file);
  return { fd, size: 0, readPos: 0 };
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

/**
 * One script execution: the request body's receiver, and the source of the response body. Its life: spawn →
 * header block (within cgi_timeout, else 504) → response once the request body is in → body streamed → done.
 * Any failure before the response is an error page; after it, a truncated response. Never throws from a callback.
 */
class CgiRun implements BodyReceiver, BodySource {
  private child: ChildProcess | null = null;
  private spool: Spool | null = null;
  private readonly scanner = new CgiHeaderScanner();
  private head: CgiHead | null = null;
  /** The whole request body was received (or there is none). */
  private bodyDone = false;
  /** The response is complete, failed, or no longer wanted: further output is discarded. */
  private done = false;
  private killed = false;
  private closed = false;
  private stdinOpen = false;
  private waitingDrain = false;
  private stdoutEnded = false;
  private sink: BodySink | null = null;
  private sinkPaused = false;
  /** Output held before the client takes it: first `pending` in memory, then `outSpool` on disk. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private outSpool: OutputSpool | null = null;
  /** Body bytes of the response taken from stdout (capped at the script's Content-Length). */
  private received = 0;
  private overflowLogged = false;
  private timer: NodeJS.Timeout | null = null;
  private stderrLine = '';
  private stderrBudget = STDERR_BUDGET;

  constructor(
    private readonly ex: Exchange,
    private readonly script: CgiScript,
    private readonly depth: number,
  ) {}

  /** Starts the run for the request head; returns the body receiver, or null when the request has no body. */
  begin(): BodyReceiver | null {
    // A client that leaves before the script answered must not leave the script running until cgi_timeout.
    this.ex.onAbandon(() => this.abort());
    const h = this.ex.head;
    if (h.chunked) {
      try {
        this.spool = openSpool();
      } catch (err) {
        this.log(`cannot spool the request body: ${String(err)}`);
        this.fail(500);
        return null;
      }
      return this;
    }
    if (h.contentLength > 0) {
      this.launch('pipe', h.contentLength);
      return this.done ? null : this;
    }
    this.bodyDone = true;
    this.launch('ignore', h.contentLength >= 0 ? 0 : null);
    return null;
  }

  private log(message: string): void {
    this.ex.logError(`cgi ${this.script.scriptName}: ${message}`);
  }

  /** Spawns the script; `stdin` is a pipe (streamed body), "ignore" (no body: /dev/null) or a spool descriptor. */
  private launch(stdin: 'pipe' | 'ignore' | number, contentLength: number | null): void {
    let child: ChildProcess;
    try {
      child = spawn(this.script.interpreter, [this.script.file], {
        cwd: path.dirname(this.script.file),
        env: cgiEnvironment(this.ex, this.script, contentLength),
        // Its own process group, so that a timeout or an abort kills whatever the script started too.
        detached: true,
        stdio: [stdin, 'pipe', 'pipe'],
      });
    } catch (err) {
      this.log(`cannot run ${this.script.interpreter}: ${String(err)}`);
      this.fail(502);
      return;
    }
    this.child = child;
    track(this);
    child.on('error', this.onSpawnError);
    child.on('exit', this.onExit);
    child.on('close', this.onClose);
    // After a spawn that failed with EMFILE, Node leaves the stdio streams undefined (the 'error' event reports it).
    const input = child.stdin ?? null;
    const stdout = child.stdout ?? null;
    const stderr = child.stderr ?? null;
    if (input !== null) {
      this.stdinOpen = true;
      input.on('drain', this.onStdinDrain);
      input.on('error', this.onStdinGone);
      input.on('close', this.onStdinGone);
    }
    stdout?.on('data', this.onStdout);
    stdout?.on('end', this.onStdoutEnd);
    stdout?.on('error', this.ignore);
    stderr?.on('data', this.onStderr);
    stderr?.on('end', this.flushStderr);
    stderr?.on('error', this.ignore);
    if (this.bodyDone) this.arm();
  }

  // ─── BodyReceiver: the request body ──

  data(chunk: Buffer): boolean {
    if (this.done) return true;
    const spool = this.spool;
    if (spool !== null) {
      try {
        let off = 0;
        while (off < chunk.length) off += fs.writeSync(spool.wfd, chunk, off, chunk.length - off);
        spool.size += chunk.length;
      } catch (err) {
        this.log(`cannot spool the request body: ${String(err)}`);
        this.fail(500);
      }
      return true;
    }
    const input = this.child?.stdin;
    if (!this.stdinOpen || input == null) return true; // the script stopped reading: the rest is discarded
    // Copied: the chunk is only valid during this call, and the pipe may queue it.
    if (input.write(Buffer.from(chunk))) return true;
    this.waitingDrain = true;
    return false;
  }

  end(): void {
    this.bodyDone = true;
    if (this.done) return;
    const spool = this.spool;
    if (spool !== null) {
      this.spool = null;
      this.launch(spool.rfd, spool.size);
      // The script holds its own copy of the read descriptor.
      closeQuietly(spool.wfd);
      closeQuietly(spool.rfd);
      return;
    }
    this.child?.stdin?.end();
    if (this.head !== null) this.deliver();
    else this.arm(); // the script now has the whole body: its time for the headers starts
  }

  abort(): void {
    this.stop();
  }

  private readonly onStdinDrain = (): void => {
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    this.ex.resumeBody();
  };

  /** EPIPE or close: a script may exit without reading its input; that is not an error. */
  private readonly onStdinGone = (): void => {
    this.stdinOpen = false;
    this.onStdinDrain();
  };

  // ─── The script's output ──

  private readonly onStdout = (chunk: Buffer): void => {
    if (this.done) return;
    if (this.head === null) {
      const r = this.scanner.push(chunk);
      if (r.kind === 'more') return;
      if (r.kind === 'error') {
        this.log(`bad header block: ${r.error.message}`);
        this.fail(502);
        return;
      }
      this.head = r.head;
      this.clearTimer();
      if (r.rest.length > 0) this.bodyChunk(r.rest);
      if (this.bodyDone && !this.done) this.deliver();
      return;
    }
    this.bodyChunk(chunk);
  };

  private readonly onStdoutEnd = (): void => {
    this.stdoutEnded = true;
    if (this.done) return;
    if (this.head === null) {
      this.log('output ended before a complete header block');
      this.fail(502);
      return;
    }
    if (this.sink !== null && !this.holding()) this.finishStream();
  };

  /** A piece of the response body: to the client, or held until it can take it. */
  private bodyChunk(chunk: Buffer): void {
    const cl = this.head?.contentLength ?? -1;
    if (cl >= 0 && chunk.length > cl - this.received) {
      if (!this.overflowLogged) {
        this.overflowLogged = true;
        this.log('output longer than its Content-Length: the rest is dropped');
      }
      chunk = chunk.subarray(0, cl - this.received);
    }
    this.received += chunk.length;
    if (chunk.length > 0) {
      if (this.sink === null || this.holding()) this.hold(chunk);
      else if (!this.sink.push(chunk)) {
        this.sinkPaused = true;
        this.child?.stdout?.pause();
      }
    }
    if (cl >= 0 && this.received === cl && this.sink !== null && !this.holding()) this.complete();
  }

  private holding(): boolean {
    return this.pending.length > 0 || this.outSpool !== null;
  }

  /**
   * Keeps output the client cannot take yet. Before the response starts (the request body is still arriving) a
   * script such as an echo must be able to keep writing, or it would stop reading its stdin and both sides would
   * wait for each other: so beyond PENDING_MAX the output spills to a file, as NGINX buffers upstream responses.
   */
  private hold(chunk: Buffer): void {
    if (this.outSpool === null && this.pendingBytes + chunk.length <= PENDING_MAX) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      return;
    }
    try {
      const spool = (this.outSpool ??= openOutputSpool());
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(spool.fd, chunk, off, chunk.length - off, spool.size + off);
      spool.size += chunk.length;
      if (spool.size - spool.readPos >= OUTPUT_SPOOL_MAX || this.sink !== null) this.child?.stdout?.pause();
    } catch (err) {
      this.log(`cannot hold output: ${String(err)}`);
      this.fail(502);
    }
  }

  /** Headers are in and so is the request body: apply the session headers, then answer. */
  private deliver(): void {
    const h = this.head!;
    if (this.ex.session() !== null) {
      if (h.sessionEnd) this.ex.endSession();
      else if (h.sessionData !== null && !this.ex.setSessionData(h.sessionData)) this.log('X-Session-Data over the size cap: not stored');
    }
    if (h.localRedirect) {
      this.stop();
      internalRedirect(this.ex, h.location!, this.depth + 1);
      return;
    }
    const res: Response = { status: h.status, headers: h.headers, body: { kind: 'stream', source: this }, length: h.contentLength };
    this.ex.respond(res);
  }

  // ─── BodySource: the response body ──

  start(sink: BodySink): void {
    this.sink = sink;
    this.flush();
  }

  pause(): void {
    this.sinkPaused = true;
    this.child?.stdout?.pause();
  }

  resume(): void {
    if (this.done) return;
    this.sinkPaused = false;
    this.flush();
  }

  /** Pushes held output while the client takes it; then completes, or lets stdout flow again. */
  private flush(): void {
    const sink = this.sink;
    if (sink === null || this.done) return;
    while (this.pending.length > 0 && !this.sinkPaused) {
      const c = this.pending.shift()!;
      this.pendingBytes -= c.length;
      if (!sink.push(c)) this.sinkPaused = true;
    }
    if (this.pending.length > 0) return;
    const spool = this.outSpool;
    if (spool !== null) {
      // Replayed in bounded reads paced by the client; stdout waits meanwhile so the file stops growing.
      this.child?.stdout?.pause();
      try {
        while (spool.readPos < spool.size && !this.sinkPaused) {
          const n = Math.min(READ_CHUNK, spool.size - spool.readPos);
          const buf = Buffer.allocUnsafe(n);
          const got = fs.readSync(spool.fd, buf, 0, n, spool.readPos);
          if (got <= 0) throw new Error('output spool shorter than written');
          spool.readPos += got;
          if (!sink.push(got === n ? buf : buf.subarray(0, got))) this.sinkPaused = true;
        }
      } catch (err) {
        this.log(`cannot replay held output: ${String(err)}`);
        this.fail(502);
        return;
      }
      if (spool.readPos < spool.size) return;
      this.outSpool = null;
      closeQuietly(spool.fd);
    }
    const cl = this.head?.contentLength ?? -1;
    if (cl >= 0 && this.received === cl) this.complete();
    else if (this.stdoutEnded) this.finishStream();
    else if (!this.sinkPaused) this.child?.stdout?.resume();
  }

  /** stdout ended with everything pushed: the body is complete unless it fell short of its Content-Length. */
  private finishStream(): void {
    const cl = this.head?.contentLength ?? -1;
    if (cl >= 0 && this.received < cl) {
      this.log(`output ended after ${this.received} of its ${cl} Content-Length bytes`);
      this.fail(502);
      return;
    }
    this.complete();
  }

  /** The response body is complete. The script may still be finishing: its output is discarded from now on, and
   *  it is killed if it has not exited within cgi_timeout. */
  private complete(): void {
    const sink = this.sink;
    if (sink === null || this.done) return;
    this.done = true;
    this.dropHeld();
    sink.end();
    if (!this.closed) {
      this.child?.stdout?.resume();
      this.arm();
    }
  }

  // ─── Ending ──

  /** Fails the exchange: an error page when nothing was sent yet, else a cut connection. Kills the script. */
  private fail(status: number): void {
    if (this.done) return;
    const sink = this.sink;
    this.stop();
    if (sink !== null) sink.fail(`cgi ${this.script.scriptName} failed`);
    else this.ex.respond(errorResponse(this.ex.server, status));
  }

  /** No more output is wanted: kill the script and release the spool. Idempotent. */
  private stop(): void {
    this.done = true;
    this.dropHeld();
    this.clearTimer();
    this.kill();
    const spool = this.spool;
    if (spool !== null) {
      this.spool = null;
      closeQuietly(spool.wfd);
      closeQuietly(spool.rfd);
    }
  }

  private dropHeld(): void {
    this.pending = [];
    this.pendingBytes = 0;
    if (this.outSpool !== null) {
      closeQuietly(this.outSpool.fd);
      this.outSpool = null;
    }
  }

  /** SIGKILL to the script's whole process group; our pipe ends are closed so nothing more arrives. */
  kill(): void {
    const child = this.child;
    if (child === null || this.killed || this.closed) return;
    this.killed = true;
    // The group outlives its leader's exit while any member holds it, so its id cannot have been reused yet.
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: already gone
      }
    }
    child.stdin?.destroy();
    child.stdout?.destroy();
    this.flushStderr();
    child.stderr?.destroy();
  }

  private arm(): void {
    this.clearTimer();
    this.timer = setTimeout(this.onTimer, this.ex.server.timeouts.cgi);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (!this.done) {
      this.log(`no complete header block within ${this.ex.server.timeouts.cgi} ms: killed`);
      this.fail(504);
    } else {
      this.log('still running after its response: killed');
      this.kill();
    }
  };

  private readonly onSpawnError = (err: Error): void => {
    this.log(`cannot run ${this.script.interpreter}: ${err.message}`);
    this.fail(502);
  };

  private readonly onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (code !== null && code !== 0) this.log(`exited with status ${code}`);
    else if (signal !== null && !this.killed) this.log(`killed by ${signal}`);
  };

  /** The script exited and all its pipes are closed: it is reaped. */
  private readonly onClose = (): void => {
    this.closed = true;
    live.delete(this);
    if (this.done) this.clearTimer();
  };

  // ─── stderr → error log, bounded ──

  private readonly onStderr = (chunk: Buffer): void => {
    if (this.stderrBudget <= 0) return;
    this.stderrLine += chunk.toString('utf8');
    let nl: number;
    while ((nl = this.stderrLine.indexOf('\n')) >= 0) {
      this.logStderr(this.stderrLine.slice(0, nl));
      this.stderrLine = this.stderrLine.slice(nl + 1);
      if (this.stderrBudget <= 0) return;
    }
    if (this.stderrLine.length > STDERR_LINE_MAX) {
      this.logStderr(this.stderrLine);
      this.stderrLine = '';
    }
  };

  private readonly flushStderr = (): void => {
    if (this.stderrLine !== '' && this.stderrBudget > 0) this.logStderr(this.stderrLine);
    this.stderrLine = '';
  };

  private logStderr(line: string): void {
    const text = line.replace(/\r$/, '').slice(0, STDERR_LINE_MAX);
    this.stderrBudget -= text.length + 1;
    this.log(`stderr: ${text}`);
    if (this.stderrBudget <= 0) {
      this.stderrLine = '';
      this.log('stderr: (further output dropped)');
    }
  }

  private readonly ignore = (): void => undefined;
}

// ─── Entry point and local redirects ──────────────────────────────────────────────────────────────────────────

/** How many internal redirects led to an exchange (absent: none). */
const redirectDepth = new WeakMap<Exchange, number>();

/**
 * Serves a local redirect (RFC 3875 §6.2.2: "the server MUST generate the response that it would have produced in
 * response to a request containing the URL"): the path is routed again, as a GET (HEAD stays HEAD) with the
 * original headers minus the body's, and answered through the original exchange.
 */
function internalRedirect(ex: Exchange, location: string, depth: number): void {
  if (depth > MAX_INTERNAL_REDIRECTS) {
    ex.logError(`cgi: more than ${MAX_INTERNAL_REDIRECTS} internal redirects for ${ex.head.target}`);
    ex.respond(errorResponse(ex.server, 500));
    return;
  }
  const q = location.indexOf('?');
  const headers = new Map(ex.head.headers);
  for (const name of ['content-length', 'content-type', 'transfer-encoding', 'expect']) headers.delete(name);
  const head: RequestHead = {
    ...ex.head,
    method: ex.head.method === 'HEAD' ? 'HEAD' : 'GET',
    target: location,
    rawPath: q < 0 ? location : location.slice(0, q),
    query: q < 0 ? '' : location.slice(q + 1),
    headers,
    contentLength: -1,
    chunked: false,
    expectContinue: false,
  };
  const p = plan(head, ex.server);
  const inner: Exchange = {
    head,
    server: ex.server,
    location: p.location,
    path: p.path,
    remoteAddress: ex.remoteAddress,
    remotePort: ex.remotePort,
    localAddress: ex.localAddress,
    localPort: ex.localPort,
    respond: (res) => ex.respond(res),
    resumeBody: () => undefined,
    logError: (m) => ex.logError(m),
    session: () => ex.session(),
    setSessionData: (d) => ex.setSessionData(d),
    endSession: () => ex.endSession(),
    onAbandon: (fn) => ex.onAbandon(fn),
  };
  redirectDepth.set(inner, depth);
  try {
    p.handler(inner);
  } catch (err) {
    ex.logError(`cgi: internal redirect to ${location} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    ex.respond(errorResponse(ex.server, 500));
  }
}

/**
 * Handles a request for `script` (from findScript): 404/403 when it is missing or unreadable or lies outside the
 * root through a symlink; otherwise runs it. Returns the receiver of the request body, or null when there is none.
 */
export function serveCgi(ex: Exchange, script: CgiScript): BodyReceiver | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(script.file);
    if (st.isFile()) fs.accessSync(script.file, fs.constants.R_OK);
  } catch (err) {
    ex.respond(fsErrorResponse(ex, 'stat', script.file, err));
    return null;
  }
  if (!st.isFile() || !insideRoot(script.root, script.file)) {
    ex.respond(errorResponse(ex.server, 403));
    return null;
  }
  return new CgiRun(ex, script, redirectDepth.get(ex) ?? 0).begin();
}
