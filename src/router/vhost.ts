/**
 * Virtual hosts (DESIGN §4): which server block answers a connection's request, by local address and Host.
 */
import type { ServerConfig } from '../config/types.js';

/** The servers reachable on one local address and port, with their names indexed. */
export class VHostGroup {
  private readonly byName = new Map<string, ServerConfig>();
  readonly fallback: ServerConfig;

  constructor(readonly servers: readonly ServerConfig[]) {
    for (const s of servers) {
      for (const n of s.serverNames) if (!this.byName.has(n)) this.byName.set(n, s);
    }
    // The first server without a server_name is the default; otherwise the first one.
    this.fallback = servers.find((s) => s.serverNames.length === 0) ?? servers[0]!;
  }

  /** The server whose server_name equals `host` (lower case, port stripped), else the default. */
  select(host: string): ServerConfig {
    if (host === '') return this.fallback;
    return this.byName.get(host) ?? this.byName.get(host.endsWith('.') ? host.slice(0, -1) : host) ?? this.fallback;
  }
}

/** True for the IPv4 and IPv6 wildcard addresses. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** Strips the IPv4-mapped IPv6 prefix a dual-stack socket reports ("::ffff:127.0.0.1" → "127.0.0.1"). */
export function plainAddress(addr: string): string {
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/** Resolves (local address, port) to its VHostGroup: servers bound to that exact address win over wildcards. */
export class VirtualHosts {
  private readonly groups = new Map<string, VHostGroup | null>();

  constructor(private readonly servers: readonly ServerConfig[]) {}

  group(localAddress: string, port: number): VHostGroup | null {
    const addr = plainAddress(localAddress);
    const key = `${addr}|${port}`;
    let g = this.groups.get(key);
    if (g === undefined) {
      const onPort = this.servers.filter((s) => s.ports.includes(port));
      const exact = onPort.filter((s) => s.host === addr);
      const family6 = addr.includes(':');
      const wild = onPort.filter((s) => isWildcard(s.host) && (s.host === '::') === family6);
      const anyWild = onPort.filter((s) => isWildcard(s.host));
      const chosen = exact.length > 0 ? exact : wild.length > 0 ? wild : anyWild;
      g = chosen.length > 0 ? new VHostGroup(chosen) : null;
      this.groups.set(key, g);
    }
    return g;
  }
}
