/**
 * `session_store memory | redis://[user:pass@]HOST:PORT[/DB] [prefix=P]` (issue 21): where a server block keeps its
 * sessions. Pure: text in, a store description or a message out.
 */
import { isIP } from 'node:net';
import { err, ok, type Result } from '../lib/result.js';

/** Where Redis is, from `redis://[user:pass@]HOST:PORT[/DB]`. */
export interface RedisAddress {
  readonly host: string;
  readonly port: number;
  readonly user: string | null;
  readonly password: string | null;
  readonly db: number;
}

/** A server block's session store. */
export type SessionStoreConfig =
  | { readonly kind: 'memory' }
  | {
      readonly kind: 'redis';
      /** The URL as written, with the password masked (for logs and `-T`). */
      readonly shown: string;
      readonly address: RedisAddress;
      /** Prepended to every key, so that sites can share one Redis. */
      readonly prefix: string;
    };

/** The default: this process's memory. */
export const MEMORY_STORE: SessionStoreConfig = { kind: 'memory' };

/** Parses a redis:// URL. The host is an address literal (or `localhost`): a name would need dns.lookup, which runs
 *  on libuv's thread pool. */
export function parseRedisUrl(text: string): Result<RedisAddress, string> {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return err(`bad Redis URL "${text}": expected redis://[user:pass@]HOST:PORT[/DB]`);
  }
  if (u.protocol !== 'redis:') return err(`bad Redis URL "${text}": expected the redis:// scheme`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : /^\d{1,5}$/.test(dbText) ? Number(dbText) : NaN;
  if (!Number.isInteger(db)) return err(`bad Redis URL "${text}": the database is a number (/0, /1...)`);
  const named = u.hostname.replace(/^\[|\]$/g, '');
  if (named === '') return err(`bad Redis URL "${text}": no host`);
  const host = named === 'localhost' ? '127.0.0.1' : named;
  if (isIP(host) === 0)
    return err(`bad Redis URL "${text}": the host must be an IP address or localhost (no DNS lookups at run time)`);
  return ok({
    host,
    port,
    user: u.username === '' ? null : decodeURIComponent(u.username),
    password: u.password === '' ? null : decodeURIComponent(u.password),
    db,
  });
}

const PREFIX = /^prefix=([!-~]{0,64})$/;

/** `session_store`'s arguments: `memory`, or a redis:// URL and an optional `prefix=` (default `localhost:sess:`). */
export function parseSessionStore(args: readonly string[]): Result<SessionStoreConfig, string> {
  const [where, option, extra] = args;
  if (where === undefined || extra !== undefined) return err('session_store takes memory or a redis:// URL [prefix=P]');
  if (where === 'memory') {
    if (option !== undefined) return err(`session_store memory takes no options, got "${option}"`);
    return ok(MEMORY_STORE);
  }
  if (!where.startsWith('redis://'))
    return err(`bad session_store "${where}": expected memory or redis://[user:pass@]HOST:PORT[/DB]`);
  const address = parseRedisUrl(where);
  if (!address.ok) return address;
  let prefix = 'localhost:sess:';
  if (option !== undefined) {
    const m = PREFIX.exec(option);
    if (m === null) return err(`bad session_store option "${option}": expected prefix=P (printable, at most 64)`);
    prefix = m[1] ?? '';
  }
  const shown = address.value.password === null ? where : where.replace(/:[^:@/]*@/, ':***@');
  return ok({ kind: 'redis', shown, address: address.value, prefix });
}
