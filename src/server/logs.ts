/**
 * The error log and the access logs (NGINX's combined format), buffered and flushed with bounded synchronous
 * writes so logging costs little on the request path.
 */
import * as fs from 'node:fs';
import type { ServerConfig } from '../config/types.js';

const FLUSH_BYTES = 64 * 1024;

/** A buffered line sink over a file descriptor. */
class LogSink {
  private pending: string[] = [];
  private bytes = 0;

  constructor(private readonly fd: number, private readonly owned: boolean) {}

  write(line: string): void {
    this.pending.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const data = this.pending.join('');
    this.pending = [];
    this.bytes = 0;
    try {
      fs.writeSync(this.fd, data);
    } catch {
      // A log that cannot be written must not take the server down; the lines are dropped.
    }
  }

  close(): void {
    this.flush();
    if (this.owned && !this.closed) fs.closeSync(this.fd);
    this.closed = true;
  }

  private closed = false;
}

function openSink(target: string, stdFd: number): LogSink {
  if (target === 'stdout') return new LogSink(1, false);
  if (target === 'stderr') return new LogSink(2, false);
  try {
    return new LogSink(fs.openSync(target, 'a', 0o644), true);
  } catch {
    return new LogSink(stdFd, false);
  }
}

/** One access-log record, as the connection knows it when a response is complete. */
export interface AccessRecord {
  readonly remoteAddress: string;
  readonly requestLine: string;
  readonly status: number;
  readonly bytes: number;
  readonly referer: string;
  readonly userAgent: string;
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
  const p = (n: number): string => (n < 10 ? '0' + n : String(n));
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function quoteField(s: string): string {
  return s === '' ? '-' : s.replace(/["\\]/g, (c) => '\\' + c).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** All log sinks of one configuration. */
export class Logs {
  private readonly errorSink: LogSink;
  private readonly accessSinks = new Map<ServerConfig, LogSink>();
  private readonly byTarget = new Map<string, LogSink>();
  private timer: NodeJS.Timeout | null = null;

  constructor(servers: readonly ServerConfig[]) {
    const errTarget = servers[0]?.errorLog ?? 'stderr';
    this.errorSink = openSink(errTarget, 2);
    for (const s of servers) {
      if (s.accessLog === null) continue;
      let sink = this.byTarget.get(s.accessLog);
      if (sink === undefined) {
        sink = openSink(s.accessLog, 1);
        this.byTarget.set(s.accessLog, sink);
      }
      this.accessSinks.set(s, sink);
    }
    // Buffered lines reach the file within a second even when traffic is light.
    this.timer = setInterval(() => this.flush(), 1000);
    this.timer.unref();
  }

  /** Writes an error-log line (flushed at once: errors are rare and worth seeing immediately). */
  error(message: string): void {
    this.errorSink.write(`${new Date().toISOString()} [error] ${message}\n`);
    this.errorSink.flush();
  }

  /** Writes an informational line to the error log. */
  info(message: string): void {
    this.errorSink.write(`${new Date().toISOString()} [info] ${message}\n`);
    this.errorSink.flush();
  }

  /** True when `server` has an access log (so the connection can skip building records otherwise). */
  wantsAccess(server: ServerConfig): boolean {
    return this.accessSinks.has(server);
  }

  /** Appends one combined-format line for `server`. */
  access(server: ServerConfig, r: AccessRecord, nowMs: number): void {
    const sink = this.accessSinks.get(server);
    if (sink === undefined) return;
    sink.write(
      `${r.remoteAddress} - - [${clfTime(nowMs)}] "${quoteField(r.requestLine)}" ${r.status} ${r.bytes} ` +
        `"${quoteField(r.referer)}" "${quoteField(r.userAgent)}"\n`,
    );
  }

  flush(): void {
    this.errorSink.flush();
    for (const s of this.byTarget.values()) s.flush();
  }

  /** Flushes and closes every sink; safe to call more than once. */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.errorSink.close();
    for (const s of this.byTarget.values()) s.close();
  }
}
