/**
 * Which sockets to bind for a configuration (DESIGN §4): each distinct host:port once; a wildcard address on a
 * port covers the specific addresses on that port, which are then told apart by the connection's local address.
 */
import type { Config } from '../config/types.js';
import { isWildcard } from '../router/vhost.js';

/** One socket to bind, with the servers it carries (for the start-up line). */
export interface BindSpec {
  readonly host: string;
  readonly port: number;
  /** Only IPv6 on "::" when "0.0.0.0" is bound on the same port too. */
  readonly ipv6Only: boolean;
  /** "name1 name2, default" style description of the servers reachable here. */
  readonly label: string;
}

/** `host:port` with brackets for IPv6. */
export function addressLabel(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The sockets a configuration needs. */
export function bindSpecs(config: Config): BindSpec[] {
  const byPort = new Map<number, Set<string>>();
  for (const s of config.servers) {
    for (const p of s.ports) {
      let hosts = byPort.get(p);
      if (hosts === undefined) byPort.set(p, (hosts = new Set()));
      hosts.add(s.host);
    }
  }
  const specs: BindSpec[] = [];
  for (const [port, hosts] of byPort) {
    const wild4 = hosts.has('0.0.0.0');
    const wild6 = hosts.has('::');
    for (const host of hosts) {
      const family6 = host.includes(':');
      // A specific address is covered by the wildcard of its family.
      if (!isWildcard(host) && (family6 ? wild6 : wild4)) continue;
      const servers = config.servers.filter(
        (s) => s.ports.includes(port) && (s.host === host || (isWildcard(host) && (s.host.includes(':') === family6))),
      );
      const names = servers.map((s, i) => (s.serverNames.length > 0 ? s.serverNames.join(' ') : '') + (i === 0 ? (s.serverNames.length > 0 ? ', default' : 'default') : ''));
      specs.push({ host, port, ipv6Only: host === '::' && wild4, label: names.filter((n) => n !== '').join('; ') });
    }
  }
  return specs;
}
