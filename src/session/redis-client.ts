/**
 * A Redis client over node:net for the session store (issue 21): commands are pipelined (written at once, replies
 * matched in order), the connection is re-made with a backoff (100 ms doubling to 5 s) whenever it drops, and
 * commands given while it is down fail at once with an error, so a caller can answer 503 instead of waiting;
 * commands given while a connection is being made wait for it.
 */
import * as net from 'node:net';
import type { RedisAddress } from '../config/session-store.js';
import { encodeCommand, RespError, RespParser, type RespValue } from './resp.js';

export type { RedisAddress } from '../config/session-store.js';

type Callback = (err: Error | null, value: RespValue) => void;

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;
/** A connection not made within this long is given up (and retried with the backoff). */
const CONNECT_TIMEOUT_MS = 1000;

/** One connection to Redis, kept up. */
export class RedisClient {
  private socket: net.Socket | null = null;
  private connected = false;
  private readonly waiting: Callback[] = [];
  /** Commands given while the connection was being made, written once it is up. */
  private readonly early: Buffer[] = [];
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
    if (s === null) {
      cb(new Error('redis unavailable'), null);
      return;
    }
    // While a connection is being made the command waits for it (at most CONNECT_TIMEOUT_MS): Node's socket
    // queues the write, and the reply is matched in order after AUTH and SELECT's.
    this.waiting.push(cb);
    if (this.connected) s.write(encodeCommand(args));
    else this.early.push(encodeCommand(args));
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
    const giveUp = setTimeout(() => {
      s.destroy(new Error('connect timed out'));
    }, CONNECT_TIMEOUT_MS);
    s.on('connect', () => {
      clearTimeout(giveUp);
      // AUTH and SELECT go first: pipelined, their replies come before any command's.
      const setup: string[][] = [];
      if (this.addr.password !== null)
        setup.push(
          this.addr.user !== null ? ['AUTH', this.addr.user, this.addr.password] : ['AUTH', this.addr.password],
        );
      if (this.addr.db !== 0) setup.push(['SELECT', String(this.addr.db)]);
      // Their replies must come first: they go before the commands given while connecting.
      this.waiting.unshift(
        ...setup.map((): Callback => (e) => {
          if (e !== null) s.destroy(e);
        }),
      );
      for (const c of setup) s.write(encodeCommand(c));
      for (const c of this.early.splice(0)) s.write(c);
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
      clearTimeout(giveUp);
      this.early.length = 0;
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
