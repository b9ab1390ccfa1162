/**
 * One session store per server block, sized by its `session_timeout` and `session_max`.
 */
import type { ServerConfig } from '../config/types.js';
import { SessionStore } from './store.js';

/**
 * The session stores of the process, created lazily on first use. A store is keyed by its server's identity
 * (address, ports, names, limits), so sessions survive a configuration reload that keeps the server block.
 */
export class SessionStores {
  private readonly stores = new Map<string, SessionStore>();
  private readonly keys = new WeakMap<ServerConfig, string>();

  /** The store for `server`. */
  for(server: ServerConfig): SessionStore {
    let key = this.keys.get(server);
    if (key === undefined) {
      key = `${server.listens.map((l) => `${l.host}:${l.port}`).join(',')}|${server.serverNames.join(',')}|${server.sessionTimeout}|${server.sessionMax}|${server.sessionMaxPerAddress}`;
      this.keys.set(server, key);
    }
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

  /** Sessions held in every store (the metrics' gauge). */
  get live(): number {
    let n = 0;
    for (const s of this.stores.values()) n += s.size;
    return n;
  }

  /** Drops expired sessions everywhere; called by the periodic sweep. */
  sweep(): void {
    for (const s of this.stores.values()) s.sweep();
  }
}
