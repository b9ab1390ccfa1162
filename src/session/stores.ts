/**
 * One session store per server block, sized by its `session_timeout` and `session_max`.
 */
import type { ServerConfig } from '../config/types.js';
import { SessionStore } from './store.js';

/** The session stores of a running configuration, created lazily on first use. */
export class SessionStores {
  private readonly stores = new Map<ServerConfig, SessionStore>();

  /** The store for `server`. */
  for(server: ServerConfig): SessionStore {
    let s = this.stores.get(server);
    if (s === undefined) {
      s = new SessionStore({ idleMs: server.sessionTimeout, max: server.sessionMax });
      this.stores.set(server, s);
    }
    return s;
  }

  /** Drops expired sessions everywhere; called by the periodic sweep. */
  sweep(): void {
    for (const s of this.stores.values()) s.sweep();
  }
}
