/**
 * Which sockets to bind for a configuration (docs/ARCHITECTURE.md "Listeners and virtual hosts"): each distinct host:port once; a wildcard address on a
 * port covers the specific addresses on that port, which are then told apart by the connection's local address.
 */
import type { ServerConfig } from '../config/types.js';
import { isWildcard, type VHostGroup } from '../router/vhost.js';

/** What a connection knows of the socket that accepted it. */
export interface ListenerInfo {
  /** The port it was accepted on. */
  readonly port: number;
  /** The servers reachable through it when that does not depend on the local address; undefined when it does
   *  (a wildcard bound beside specific addresses on the same port). */
  readonly group: VHostGroup | null | undefined;
}

/** One socket to bind, with the servers it carries. */
export interface BindSpec {
  readonly host: string;
  readonly port: number;
  /** Only IPv6 on "::" when "0.0.0.0" is bound on the same port too. */
  readonly ipv6Only: boolean;
  /** Its connections speak TLS (`listen ... ssl`); always carried by node:tls, whatever the engine. */
  readonly ssl: boolean;
  /** listen(2) backlog: the largest asked for by the listens it covers. */
  readonly backlog: number;
  /** The servers reachable through this socket, in configuration order. */
  readonly servers: readonly ServerConfig[];
  /** "name1 name2, default" style description of the servers reachable here (for the start-up line). */
  readonly label: string;
}

/** `host:port` with brackets for IPv6. */
export function addressLabel(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Whether a socket bound to `host` reaches a server listening on `listenHost` (same port). */
function covers(host: string, listenHost: string): boolean {
  return listenHost === host || (isWildcard(host) && listenHost.includes(':') === host.includes(':'));
}

/** The sockets a set of servers needs. */
export function bindSpecs(servers: readonly ServerConfig[]): BindSpec[] {
  const byPort = new Map<number, Set<string>>();
  for (const s of servers) {
    for (const l of s.listens) {
      let hosts = byPort.get(l.port);
      if (hosts === undefined) byPort.set(l.port, (hosts = new Set()));
      hosts.add(l.host);
    }
  }
  const specs: BindSpec[] = [];
  for (const [port, hosts] of byPort) {
    const wild4 = hosts.has('0.0.0.0');
    const wild6 = hosts.has('::');
    for (const host of hosts) {
      // A specific address is covered by the wildcard of its family.
      if (!isWildcard(host) && (host.includes(':') ? wild6 : wild4)) continue;
      const listens = servers.flatMap((s) =>
        s.listens.filter((l) => l.port === port && covers(host, l.host)).map((l) => ({ s, l })),
      );
      const reached = [...new Set(listens.map((x) => x.s))];
      const names = reached.map(
        (s, i) =>
          (s.serverNames.length > 0 ? s.serverNames.join(' ') : '') +
          (i === 0 ? (s.serverNames.length > 0 ? ', default' : 'default') : ''),
      );
      specs.push({
        host,
        port,
        ipv6Only: host === '::' && wild4,
        ssl: listens.some((x) => x.l.ssl),
        backlog: Math.max(...listens.map((x) => x.l.backlog)),
        servers: reached,
        label: names.filter((n) => n !== '').join('; '),
      });
    }
  }
  return specs;
}
