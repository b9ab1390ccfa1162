/**
 * The live state of an upstream (docs/ARCHITECTURE.md "Gateway"): smooth weighted round robin over its servers
 * (nginx's), passive health (`max_fails` failures within `fail_timeout` take a server out for `fail_timeout`),
 * backups while every primary is out, and the pool of idle keep-alive connections (`keepalive N`).
 */
import type { UpstreamConfig, UpstreamServer } from '../../config/proxy.js';
import type { DialTarget, Outbound, OutboundEvents } from '../../server/transport.js';

/** How long an idle pooled connection is kept (nginx's keepalive_timeout for upstreams). */
export const IDLE_MS = 60_000;

/** One server of an upstream, with its health. */
export class Peer {
  /** Smooth weighted round robin's running weight. */
  current = 0;
  fails = 0;
  /** When the first of the current run of failures happened, or when it was taken out. */
  failedAt = 0;

  constructor(readonly cfg: UpstreamServer) {}

  get address(): DialTarget {
    return this.cfg.address;
  }
  get text(): string {
    return this.cfg.text;
  }
  get hostHeader(): string {
    return this.cfg.hostHeader;
  }

  /** Out of rotation: max_fails reached within fail_timeout, and fail_timeout not yet over. */
  down(now: number): boolean {
    const c = this.cfg;
    if (c.maxFails === 0 || this.fails < c.maxFails) return false;
    if (now - this.failedAt >= c.failTimeout) {
      this.fails = 0; // its time out is over: it gets a request again
      return false;
    }
    return true;
  }
}

interface IdleEntry {
  readonly peer: Peer;
  readonly conn: Outbound;
  readonly since: number;
}

/** An upstream's servers and pool. */
export class UpstreamSet {
  readonly peers: readonly Peer[];
  private idle: IdleEntry[] = [];

  constructor(private readonly cfg: UpstreamConfig) {
    this.peers = cfg.servers.map((s) => new Peer(s));
  }

  get name(): string {
    return this.cfg.name;
  }
  get keepalive(): number {
    return this.cfg.keepalive;
  }

  /** The next server not in `tried`: the primaries by weight, else the backups; null when none is live. */
  pick(tried: ReadonlySet<Peer>): Peer | null {
    const now = Date.now();
    return this.pickAmong(false, tried, now) ?? this.pickAmong(true, tried, now);
  }

  private pickAmong(backup: boolean, tried: ReadonlySet<Peer>, now: number): Peer | null {
    let best: Peer | null = null;
    let total = 0;
    for (const p of this.peers) {
      if (p.cfg.backup !== backup || tried.has(p) || p.down(now)) continue;
      p.current += p.cfg.weight;
      total += p.cfg.weight;
      if (best === null || p.current > best.current) best = p;
    }
    if (best !== null) best.current -= total;
    return best;
  }

  /** A connection or a response from `p` failed (passive health). */
  failed(p: Peer): void {
    const now = Date.now();
    if (p.fails === 0 || now - p.failedAt >= p.cfg.failTimeout) {
      p.fails = 0;
      p.failedAt = now;
    }
    p.fails++;
    if (p.fails === p.cfg.maxFails) p.failedAt = now;
  }

  /** `p` answered. */
  succeeded(p: Peer): void {
    p.fails = 0;
  }

  /** An idle pooled connection to `p`, now owned by `owner`; null when there is none. */
  takeIdle(p: Peer, owner: OutboundEvents): Outbound | null {
    this.prune();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const e = this.idle[i];
      if (e === undefined || e.peer !== p) continue;
      this.idle.splice(i, 1);
      e.conn.rebind(owner);
      return e.conn;
    }
    return null;
  }

  /** Keeps `conn` (a finished exchange's) for reuse; the oldest goes beyond `keepalive`. */
  putIdle(p: Peer, conn: Outbound): void {
    this.prune();
    const entry: IdleEntry = { peer: p, conn, since: Date.now() };
    // While idle, anything from the upstream (bytes, FIN, a close) ends the connection.
    const gone = (): void => {
      const i = this.idle.indexOf(entry);
      if (i >= 0) this.idle.splice(i, 1);
      conn.destroy();
    };
    conn.rebind({ onConnect: () => undefined, onData: gone, onEnd: gone, onDrain: () => undefined, onClose: gone });
    this.idle.push(entry);
    while (this.idle.length > this.cfg.keepalive) this.idle.shift()?.conn.destroy();
  }

  /** Closes connections idle longer than IDLE_MS. */
  private prune(): void {
    const old = Date.now() - IDLE_MS;
    while (this.idle.length > 0 && (this.idle[0]?.since ?? 0) < old) this.idle.shift()?.conn.destroy();
  }
}

const sets = new WeakMap<UpstreamConfig, UpstreamSet>();

/** The one live state of `cfg` (per loaded configuration: a reload starts afresh). */
export function upstreamSetFor(cfg: UpstreamConfig): UpstreamSet {
  let s = sets.get(cfg);
  if (s === undefined) {
    s = new UpstreamSet(cfg);
    sets.set(cfg, s);
  }
  return s;
}
