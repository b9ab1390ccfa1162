/**
 * The session stores of the process: one per server block, in memory (sized by `session_timeout`, `session_max`
 * and `session_max_per_address`) or in Redis (`session_store redis://…`), with one connection per Redis.
 */
import type { ServerConfig } from '../config/types.js';
import type { RedisAddress } from '../config/session-store.js';
import { RedisClient } from './redis-client.js';
import { RedisSessionStore } from './redis-store.js';
import { SessionStore } from './store.js';

/** At most one "session store unavailable" line per store per this long: a down Redis must not flood the log. */
const FAILURE_LOG_EVERY_MS = 10_000;

const addressKey = (a: RedisAddress): string => `${a.host}|${a.port}|${a.db}|${a.user ?? ''}|${a.password ?? ''}`;

/**
 * Stores created lazily on first use, keyed by their server's identity (address, ports, names, limits, store), so
 * sessions survive a configuration reload that keeps the server block.
 */
export class SessionStores {
  private readonly stores = new Map<string, SessionStore>();
  private readonly remote = new Map<string, RedisSessionStore>();
  private readonly clients = new Map<string, RedisClient>();
  private readonly keys = new WeakMap<ServerConfig, string>();

  constructor(private readonly log: (message: string) => void = () => undefined) {}

  private keyOf(server: ServerConfig): string {
    let key = this.keys.get(server);
    if (key === undefined) {
      const where =
        server.sessionStore.kind === 'memory'
          ? 'memory'
          : `${addressKey(server.sessionStore.address)} ${server.sessionStore.prefix}`;
      key = `${server.listens.map((l) => `${l.host}:${l.port}`).join(',')}|${server.serverNames.join(',')}|${server.sessionTimeout}|${server.sessionMax}|${server.sessionMaxPerAddress}|${where}`;
      this.keys.set(server, key);
    }
    return key;
  }

  /** The memory store for `server`. */
  for(server: ServerConfig): SessionStore {
    const key = this.keyOf(server);
    let s = this.stores.get(key);
    if (s === undefined) {
      s = new SessionStore({
        idleMs: server.sessionTimeout,
        max: server.sessionMax,
        maxPerOwner: server.sessionMaxPerAddress,
      });
      this.stores.set(key, s);
    }
    return s;
  }

  /** The Redis store for `server`, or null when its sessions are in memory. */
  redisFor(server: ServerConfig): RedisSessionStore | null {
    const cfg = server.sessionStore;
    if (cfg.kind !== 'redis') return null;
    const key = this.keyOf(server);
    let s = this.remote.get(key);
    if (s === undefined) {
      const ak = addressKey(cfg.address);
      let client = this.clients.get(ak);
      if (client === undefined) {
        client = new RedisClient(cfg.address, (up, why) => {
          this.log(`session_store ${cfg.shown}: ${up ? 'up' : 'down'} (${why})`);
        });
        this.clients.set(ak, client);
      }
      let lastLog = -Infinity;
      s = new RedisSessionStore(
        client,
        { prefix: cfg.prefix, idleMs: server.sessionTimeout, max: server.sessionMax },
        (why) => {
          const now = Date.now();
          if (now - lastLog < FAILURE_LOG_EVERY_MS) return;
          lastLog = now;
          this.log(`session_store ${cfg.shown} unavailable: ${why}; session locations answer 503`);
        },
      );
      this.remote.set(key, s);
    }
    return s;
  }

  /** Opens the Redis connections `servers` name now, so that the first request finds them up. */
  connect(servers: readonly ServerConfig[]): void {
    for (const s of servers) this.redisFor(s);
  }

  /** Sessions held in memory in every store (the metrics' gauge; Redis holds its own count). */
  get live(): number {
    let n = 0;
    for (const s of this.stores.values()) n += s.size;
    return n;
  }

  /** Drops expired sessions everywhere; called by the periodic sweep (Redis expires its keys itself). */
  sweep(): void {
    for (const s of this.stores.values()) s.sweep();
  }

  /** Closes the connections to Redis (the server is stopping). */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    this.remote.clear();
  }
}
