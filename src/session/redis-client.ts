/**
 * A Redis client over node:net for the session store (issue 21): commands are pipelined (written at once, replies
 * matched in order), the connection is re-made with a backoff (100 ms doubling to 5 s) whenever it drops, and
 * commands given while it is down fail at once with an error, so a caller can answer 503 instead of waiting.
 * Not yet wired to the session store.
 */
import * as net from 'node:net';
import { encodeCommand, RespError, RespParser, type RespValue } from './resp.js';

/** Where Redis is, from `redis://[user:pass@]HOST:PORT[/DB]`. */
export interface RedisAddress {
  readonly host: string;
  readonly port: number;
  readonly user: string | null;
  readonly password: string | null;
  readonly db: number;
}

/** Parses a redis:// URL; an error string when it is not one. */
export function parseRedisUrl(text: string): RedisAddress | string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return `bad Redis URL "${text}": expected redis://[user:pass@]HOST:PORT[/DB]`;
  }
  if (u.protocol !== 'redis:') return `bad Redis URL "${text}": expected the redis:// scheme`;
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : /^\d{1,5}$/.test(dbText) ? Number(dbText) : NaN;
  if (!Number.isInteger(db)) return `bad Redis URL "${text}": the database is a number (/0, /1...)`;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === '') return `bad Redis URL "${text}": no host`;
  return {
    host,
    port,
    user: u.username === '' ? null : decodeURIComponent(u.username),
    password: u.password === '' ? null : decodeURIComponent(u.password),
    db,
  };
}

type Callback = (err: Error | null, value: RespValue) => void;

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;

/** One connection to Redis, kept up. */
export class RedisClient {
  private socket: net.Socket | null = null;
  private connected = false;
  private readonly waiting: Callback[] = [];
  private parser = new RespParser();
  private backoff = MIN_BACKOFF_MS;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly addr: RedisAddress,
    /** Told each time the connection comes up (true) or goes down (false), for logging. */
    private readonly onState: (up: boolean, why: string) => void = () => undefined,
  ) {
    this.connect();
  }

  /** Whether commands can be sent now. */
  get up(): boolean {
    return this.connected;
  }

  /** Sends one command; `cb` gets its reply, a RespError reply as an Error, or the connection's failure. */
  command(args: readonly (string | Buffer)[], cb: Callback): void {
    const s = this.socket;
    if (!this.connected || s === null) {
      cb(new Error('redis unavailable'), null);
      return;
    }
    this.waiting.push(cb);
    s.write(encodeCommand(args));
  }

  /** Closes the connection for good. */
  close(): void {
    this.closed = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.socket?.destroy();
  }

  private connect(): void {
    const s = net.connect({ host: this.addr.host, port: this.addr.port });
    this.socket = s;
    this.parser = new RespParser();
    s.setNoDelay(true);
    s.on('connect', () => {
      // AUTH and SELECT go first: pipelined, their replies come before any command's.
      const setup: string[][] = [];
      if (this.addr.password !== null)
        setup.push(
          this.addr.user !== null ? ['AUTH', this.addr.user, this.addr.password] : ['AUTH', this.addr.password],
        );
      if (this.addr.db !== 0) setup.push(['SELECT', String(this.addr.db)]);
      for (const c of setup) {
        this.waiting.push((e) => {
          if (e !== null) s.destroy(e);
        });
        s.write(encodeCommand(c));
      }
      this.connected = true;
      this.backoff = MIN_BACKOFF_MS;
      this.onState(true, `connected to ${this.addr.host}:${this.addr.port}`);
    });
    s.on('data', (chunk: Buffer) => {
      this.parser.push(chunk);
      for (;;) {
        let v: RespValue | undefined;
        try {
          v = this.parser.next();
        } catch (e) {
          s.destroy(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        if (v === undefined) return;
        const cb = this.waiting.shift();
        if (v instanceof RespError) cb?.(new Error(v.message), null);
        else cb?.(null, v);
      }
    });
    s.on('error', () => {
      // 'close' follows and does the accounting
    });
    s.on('close', () => {
      const was = this.connected;
      this.connected = false;
      this.socket = null;
      for (const cb of this.waiting.splice(0)) cb(new Error('redis connection lost'), null);
      if (was) this.onState(false, `lost ${this.addr.host}:${this.addr.port}`);
      if (this.closed) return;
      this.retry = setTimeout(() => {
        this.retry = null;
        this.connect();
      }, this.backoff);
      this.retry.unref();
      this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
    });
  }
}
