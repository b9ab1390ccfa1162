/**
 * The error log and the access logs (`log_format`, NGINX's variables and escaping; `combined` by default), buffered and flushed with bounded synchronous
 * writes so logging costs little on the request path.
 */
import * as fs from 'node:fs';
import type { LogFormat, LogLevel, ServerConfig } from '../config/types.js';
import type { RequestHead } from '../http/request.js';

/** How much a sink holds, and for how long, when its configuration does not say (the error log's own). */
const DEFAULT_HOLD: Hold = { buffer: 64 * 1024, flushMs: 1000 };
/** Log bytes kept for a pipe whose reader is behind, and how soon they are tried again. */
const PIPE_BACKLOG = 1024 * 1024;
const PIPE_RETRY_MS = 20;

/** A sink's `buffer=` (bytes held before a write) and `flush=` (the longest a line is held, ms). */
interface Hold {
  readonly buffer: number;
  readonly flushMs: number;
}

/** A buffered line sink over a file descriptor; a file sink can be reopened (SIGUSR1, after logrotate). */
class LogSink {
  private pending: string[] = [];
  private bytes = 0;
  /** Armed by the first line held: writes it out within `hold.flushMs`. */
  private age: NodeJS.Timeout | null = null;
  /** Set while a pipe refused our bytes (EAGAIN): the timer that tries again. */
  private retry: NodeJS.Timeout | null = null;
  /** Lines refused while the backlog was full. */
  private dropped = 0;
  private closed = false;

  constructor(
    private fd: number,
    /** The file's path when we opened it ourselves; null for stdout/stderr. */
    private readonly file: string | null,
    private readonly hold: Hold = DEFAULT_HOLD,
  ) {}

  write(line: string): void {
    if (this.retry !== null && this.bytes >= PIPE_BACKLOG) {
      this.dropped++; // a pipe whose reader is this far behind: the newest lines go, and a note says so
      return;
    }
    this.pending.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.hold.buffer) this.flush();
    else if (this.age === null && this.retry === null) {
      this.age = setTimeout(() => {
        this.age = null;
        this.flush();
      }, this.hold.flushMs);
      this.age.unref();
    }
  }

  /** Writes what is pending; while a full pipe waits for its retry, nothing (the retry timer writes). */
  flush(): void {
    if (this.retry === null) this.writeOut();
  }

  private writeOut(): void {
    if (this.age !== null) clearTimeout(this.age);
    this.age = null;
    if (this.dropped > 0) {
      this.pending.push(
        `${new Date().toISOString()} [warn] ${this.dropped} log lines dropped: the log's reader fell behind\n`,
      );
      this.dropped = 0;
    }
    if (this.pending.length === 0) return;
    const data = this.pending.join('');
    this.pending = [];
    this.bytes = 0;
    if (this.file !== null) {
      try {
        fs.writeSync(this.fd, data);
      } catch {
        // A log that cannot be written must not take the server down; the lines are dropped.
      }
      return;
    }
    // stdout and stderr are non-blocking when they are a pipe: a reader that falls behind makes write(2) fail with
    // EAGAIN. What was not written waits for a retry instead of being lost (up to PIPE_BACKLOG bytes).
    const pieces = pipePieces(data);
    for (let i = 0; i < pieces.length; i++) {
      try {
        fs.writeSync(this.fd, pieces[i] ?? '');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') this.keepForRetry(pieces.slice(i));
        return; // any other error (EPIPE: nobody reads) drops the lines
      }
    }
  }

  /** Pieces a full pipe refused: they go first when the retry timer fires. */
  private keepForRetry(pieces: string[]): void {
    this.pending = pieces;
    for (const p of pieces) this.bytes += p.length;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.writeOut();
    }, PIPE_RETRY_MS);
    this.retry.unref();
  }

  /** Flushes, then opens the path again and swaps descriptors (the old file may have been renamed away).
   *  Returns an error message when the file cannot be opened; the old descriptor is kept then. */
  reopen(): string | null {
    if (this.file === null || this.closed) return null;
    this.flush();
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'a', 0o644);
    } catch (err) {
      return `cannot reopen log ${this.file}: ${err instanceof Error ? err.message : String(err)}`;
    }
    const old = this.fd;
    this.fd = fd;
    try {
      fs.closeSync(old);
    } catch {
      // already gone
    }
    return null;
  }

  close(): void {
    this.flush();
    // The process may be about to exit: a pipe still refusing gets a bounded wait (CLOSE_WAIT_MS), not a timer.
    const until = Date.now() + CLOSE_WAIT_MS;
    while (this.retry !== null && Date.now() < until) {
      clearTimeout(this.retry);
      this.retry = null;
      Atomics.wait(SLEEPER, 0, 0, PIPE_RETRY_MS);
      this.writeOut();
    }
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    if (this.file !== null && !this.closed) fs.closeSync(this.fd);
    this.closed = true;
  }
}

/** Blocks the thread for a few milliseconds (Atomics.wait on a value nobody changes): a sleep without a timer. */
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
const CLOSE_WAIT_MS = 500;

/** POSIX's PIPE_BUF on Linux: a write(2) of at most this many bytes to a pipe is never interleaved with another. */
const PIPE_BUF = 4096;

/**
 * `data` (whole lines) cut at line ends into pieces of at most PIPE_BUF bytes where the lines allow: stdout and
 * stderr are often a pipe shared by every worker of `worker_processes`, and a longer write(2) to a pipe may
 * interleave with another process's. (A file we open is O_APPEND: each write lands whole at the end.)
 */
export function pipePieces(data: string): string[] {
  const buf = Buffer.from(data);
  if (buf.length <= PIPE_BUF) return [data];
  const out: string[] = [];
  let start = 0;
  while (start < buf.length) {
    let end = Math.min(buf.length, start + PIPE_BUF);
    if (end < buf.length) {
      const nl = buf.lastIndexOf(0x0a, end - 1);
      // A line longer than PIPE_BUF goes whole, in one write: no cut can keep it atomic.
      end = nl >= start ? nl + 1 : Math.max(end, buf.indexOf(0x0a, end) + 1 || buf.length);
    }
    out.push(buf.toString('utf8', start, end));
    start = end;
  }
  return out;
}

function openSink(target: string, stdFd: number, hold?: Hold): LogSink {
  if (target === 'stdout') return new LogSink(1, null, hold);
  if (target === 'stderr') return new LogSink(2, null, hold);
  try {
    return new LogSink(fs.openSync(target, 'a', 0o644), target, hold);
  } catch {
    return new LogSink(stdFd, null, hold);
  }
}

/** One access-log record, as the connection knows it when a response is complete. */
export interface AccessRecord {
  /** The client's address (after set_real_ip_from). */
  readonly remoteAddress: string;
  /** The connection's peer ($realip_remote_addr); the client's when absent. */
  readonly peerAddress?: string;
  /** The request's head; null when the request line could not be read. */
  readonly head: RequestHead | null;
  readonly status: number;
  /** Body bytes sent ($body_bytes_sent). */
  readonly bytes: number;
  /** Head and body bytes sent ($bytes_sent). */
  readonly bytesSent: number;
  /** Head bytes received, plus the body when it was read whole ($request_length). */
  readonly requestLength: number;
  /** When the request's head was parsed (ms since the epoch), for $request_time. */
  readonly startedAt: number;
}

/** What only the connection knows about a request, beyond its head and status. */
export interface AccessExtras {
  readonly peerAddress?: string;
  readonly bytesSent: number;
  readonly requestLength: number;
  readonly startedAt: number;
}

/** The record of one response (`head` null when the request line could not be read). */
export function accessRecord(
  remoteAddress: string,
  head: RequestHead | null,
  status: number,
  bytes: number,
  extras: AccessExtras = { bytesSent: bytes, requestLength: 0, startedAt: Date.now() },
): AccessRecord {
  return { remoteAddress, head, status, bytes, ...extras };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

let clfSecond = -1;
let clfCached = '';

/** `10/Oct/2000:13:55:36 +0000`, the combined format's time (UTC), formatted at most once per second. */
function clfTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec === clfSecond) return clfCached;
  clfSecond = sec;
  clfCached = formatClf(sec * 1000);
  return clfCached;
}

function formatClf(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? ''}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** `2026-12-02T03:33:06+00:00` ($time_iso8601, UTC). */
function isoTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');
}

/** The user name of `Authorization: Basic` ($remote_user), "" when there is none. */
function remoteUser(head: RequestHead | null): string {
  const auth = head?.headers.get('authorization') ?? '';
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth);
  if (m?.[1] === undefined) return '';
  const decoded = Buffer.from(m[1], 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  return colon < 0 ? '' : decoded.slice(0, colon);
}

/** The value of variable `v` for record `r` (strings are latin1: one char per byte received). */
function variable(v: string, header: string | null, r: AccessRecord, nowMs: number): string {
  const h = r.head;
  if (header !== null) return h?.headers.get(header) ?? '';
  switch (v) {
    case 'remote_addr':
      return r.remoteAddress;
    case 'realip_remote_addr':
      return r.peerAddress ?? r.remoteAddress;
    case 'remote_user':
      return remoteUser(h);
    case 'time_local':
      return clfTime(nowMs);
    case 'time_iso8601':
      return isoTime(nowMs);
    case 'msec':
      return (nowMs / 1000).toFixed(3);
    case 'request':
      return h !== null ? `${h.method} ${h.target} HTTP/1.${h.minor}` : '';
    case 'request_method':
      return h?.method ?? '';
    case 'request_uri':
      return h?.target ?? '';
    case 'server_protocol':
      return h !== null ? `HTTP/1.${h.minor}` : '';
    case 'status':
      return String(r.status);
    case 'body_bytes_sent':
      return String(r.bytes);
    case 'bytes_sent':
      return String(r.bytesSent);
    case 'request_length':
      return String(r.requestLength);
    case 'request_time':
      return (Math.max(0, nowMs - r.startedAt) / 1000).toFixed(3);
    case 'host':
      return h?.host ?? '';
    default:
      return ''; // $upstream_response_time: no upstream yet
  }
}

/** nginx's default escaping: `"`, `\\` and bytes outside 0x20–0x7e as \xXX; an empty value is "-". */
function escapeDefault(s: string): string {
  if (s === '') return '-';
  return s.replace(/["\\\x00-\x1f\x7f-\uffff]/g, (c) => {
    const code = c.charCodeAt(0);
    // Values are latin1 (one char per byte received); a wider char can only come from our own text.
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/**
 * escape=json: as inside a JSON string (RFC 8259 §7). Every char outside printable ASCII is written as \u00XX, so
 * a line is ASCII and valid JSON whatever bytes the client sent (a byte that is not UTF-8 stays recoverable).
 */
function escapeJson(s: string): string {
  return s.replace(/["\\\x00-\x1f\x7f-\uffff]/g, (c) => {
    if (c === '"') return '\\"';
    if (c === '\\') return '\\\\';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** One access-log line of `format` for `r` (without the newline). */
export function formatAccessLine(format: LogFormat, r: AccessRecord, nowMs: number): string {
  let line = '';
  for (const part of format.parts) {
    if ('literal' in part) {
      line += part.literal;
      continue;
    }
    const value = variable(part.variable, part.header, r, nowMs);
    line += format.escape === 'json' ? escapeJson(value) : format.escape === 'none' ? value : escapeDefault(value);
  }
  return line;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'notice', 'warn', 'error', 'crit'];

/** All log sinks of one configuration. */
export class Logs {
  private readonly errorSink: LogSink;
  /** `error_log PATH LEVEL`: lines less severe than this are not written. */
  private readonly level: number;
  private readonly accessSinks = new Map<ServerConfig, LogSink>();
  private readonly byTarget = new Map<string, LogSink>();

  constructor(servers: readonly ServerConfig[]) {
    const errTarget = servers[0]?.errorLog ?? 'stderr';
    this.errorSink = openSink(errTarget, 2);
    this.level = LEVELS.indexOf(servers[0]?.errorLogLevel ?? 'info');
    for (const s of servers) {
      if (s.accessLog === null) continue;
      let sink = this.byTarget.get(s.accessLog);
      if (sink === undefined) {
        // Servers sharing a file share its buffer: the first one's buffer= and flush= size it.
        sink = openSink(s.accessLog, 1, s.accessLogOptions);
        this.byTarget.set(s.accessLog, sink);
      }
      this.accessSinks.set(s, sink);
    }
  }

  /** Writes an error-log line (flushed at once: errors are rare and worth seeing immediately). */
  error(message: string): void {
    this.line('error', message);
  }

  /** Writes an informational line to the error log. */
  info(message: string): void {
    this.line('info', message);
  }

  private line(level: LogLevel, message: string): void {
    if (LEVELS.indexOf(level) < this.level) return;
    this.errorSink.write(`${new Date().toISOString()} [${level}] ${message}\n`);
    this.errorSink.flush();
  }

  /** True when `server` has an access log (so the connection can skip building records otherwise). */
  wantsAccess(server: ServerConfig): boolean {
    return this.accessSinks.has(server);
  }

  /** Appends a line in `server`'s access-log format, unless its `if=` condition is "" or "0". */
  access(server: ServerConfig, r: AccessRecord, nowMs: number): void {
    const sink = this.accessSinks.get(server);
    if (sink === undefined) return;
    const condition = server.accessLogOptions.condition;
    if (condition !== null) {
      const v = formatAccessLine(condition, r, nowMs);
      if (v === '' || v === '0') return;
    }
    sink.write(`${formatAccessLine(server.accessLogFormat, r, nowMs)}\n`);
  }

  flush(): void {
    this.errorSink.flush();
    for (const s of this.byTarget.values()) s.flush();
  }

  /** Reopens every file log (NGINX's `-s reopen`, SIGUSR1): lines buffered so far go to the old file. */
  reopen(): void {
    for (const sink of [this.errorSink, ...this.byTarget.values()]) {
      const problem = sink.reopen();
      if (problem !== null) this.error(problem);
    }
  }

  /** Flushes and closes every sink; safe to call more than once. */
  close(): void {
    this.errorSink.close();
    for (const s of this.byTarget.values()) s.close();
  }
}
