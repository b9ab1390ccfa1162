/**
 * What every connection shares: the configuration's virtual hosts, counters, logs, and the shutdown flag.
 */
import type { Config, ServerConfig } from '../config/types.js';
import { VirtualHosts } from '../router/vhost.js';
import type { SessionStores } from '../session/stores.js';
import { currentCounters } from './counters.js';
import type { Logs } from './logs.js';

/** Counters reported by `status on` locations (the fields of NGINX's stub_status). */
export interface Counters {
  accepted: number;
  handled: number;
  requests: number;
  active: number;
  reading: number;
  writing: number;
  waiting: number;
  readonly startedAt: number;
}

/** One loaded configuration and what is derived from it; a reload makes a new one. */
export class Runtime {
  readonly vhosts: VirtualHosts;
  /** The process-wide counters (they outlive a reload). */
  readonly counters: Counters = currentCounters();
  /** Set on SIGTERM/SIGINT: responses close their connections, idle ones are closed. */
  shuttingDown = false;

  constructor(
    readonly config: Config,
    readonly logs: Logs,
    readonly sessions: SessionStores,
  ) {
    this.vhosts = new VirtualHosts(config.servers);
  }

  /** The server whose timeouts apply before the Host header is known. */
  defaultServer(localAddress: string, port: number): ServerConfig | null {
    return this.vhosts.group(localAddress, port)?.fallback ?? null;
  }
}
