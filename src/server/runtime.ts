/**
 * What every connection shares: the configuration's virtual hosts, counters, logs, and the shutdown flag.
 */
import type { AccessServices } from '../access/gate.js';
import type { Config } from '../config/types.js';
import { VirtualHosts } from '../router/vhost.js';
import type { SessionStores } from '../session/stores.js';
import { currentCounters } from './counters.js';
import type { Logs } from './logs.js';
import type { Sweep } from './timeouts.js';
import { TlsSites } from './tls-sites.js';
import type { Dialer, Launcher } from './transport.js';

/** What every configuration shares for the life of the process. */
export interface Services {
  readonly sessions: SessionStores;
  /** The one timeout sweep. */
  readonly sweep: Sweep;
  /** Starts CGI scripts. */
  readonly launcher: Launcher;
  /** Password checks and limit zones (docs/ARCHITECTURE.md "Access control"). */
  readonly access: AccessServices;
  /** Opens connections to upstreams (proxy_pass, fastcgi_pass). */
  readonly dialer: Dialer;
}

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
  /** The certificates of this configuration's TLS servers, by address. */
  readonly tls = new TlsSites();
  /** Set on SIGTERM/SIGINT: responses close their connections, idle ones are closed. */
  shuttingDown = false;

  constructor(
    readonly config: Config,
    readonly logs: Logs,
    readonly services: Services,
  ) {
    this.vhosts = new VirtualHosts(config.servers);
  }

  get sessions(): SessionStores {
    return this.services.sessions;
  }
}
