/**
 * Virtual hosts (docs/ARCHITECTURE.md "Listeners and virtual hosts"): which server block answers a connection's request, by local address and Host.
 */
import type { ServerConfig } from '../config/types.js';

/** A `server_name` that is not a plain name: `*.a.b` / `.a.b` (suffix), `www.a.*` (prefix) or `~regex`. */
export type NamePattern =
  | { readonly kind: 'exact'; readonly name: string }
  /** `*.example.com` → ".example.com"; `.example.com` → ".example.com" that also takes "example.com". */
  | { readonly kind: 'suffix'; readonly suffix: string; readonly bare: boolean }
  /** `www.example.*` → "www.example." */
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'regex'; readonly regex: RegExp };

/** Reads one server_name as nginx does; an error string for a misplaced "*" or a regex that does not compile. */
export function namePattern(name: string): NamePattern | string {
  if (name.startsWith('~')) {
    try {
      return { kind: 'regex', regex: new RegExp(name.slice(1).replaceAll('(?P<', '(?<')) };
    } catch (e) {
      return `bad server_name regex "${name}": ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  const star = name.indexOf('*');
  if (star < 0 && !name.startsWith('.')) return { kind: 'exact', name };
  if (name.startsWith('*.') && star === name.lastIndexOf('*') && name.length > 2)
    return { kind: 'suffix', suffix: name.slice(1), bare: false };
  if (star < 0 && name.length > 1) return { kind: 'suffix', suffix: name, bare: true };
  if (name.endsWith('.*') && star === name.length - 1 && name.length > 2)
    return { kind: 'prefix', prefix: name.slice(0, -1) };
  return `bad server_name "${name}": a "*" may only be a whole first or last label, as in *.example.com or www.example.*`;
}

/** The servers reachable on one local address and port, with their names indexed. */
export class VHostGroup {
  private readonly byName = new Map<string, ServerConfig>();
  /** Wildcards starting with "*" (or "."), longest first; then those ending with "*", longest first. */
  private readonly suffixes: { readonly p: { suffix: string; bare: boolean }; readonly s: ServerConfig }[] = [];
  private readonly prefixes: { readonly prefix: string; readonly s: ServerConfig }[] = [];
  private readonly regexes: { readonly regex: RegExp; readonly s: ServerConfig }[] = [];
  readonly fallback: ServerConfig;
  /** The first server: its certificate goes to a TLS client that names no server here (or none at all). */
  readonly first: ServerConfig;

  /** `preferred`: the server marked `default_server` on this address, if any. */
  constructor(
    readonly servers: readonly ServerConfig[],
    preferred?: ServerConfig,
  ) {
    for (const s of servers) {
      for (const n of s.serverNames) {
        const p = namePattern(n);
        if (typeof p === 'string') continue; // the validator refused it already
        if (p.kind === 'exact') {
          if (!this.byName.has(n)) this.byName.set(n, s);
        } else if (p.kind === 'suffix') this.suffixes.push({ p, s });
        else if (p.kind === 'prefix') this.prefixes.push({ prefix: p.prefix, s });
        else this.regexes.push({ regex: p.regex, s });
      }
    }
    // Stable sorts: among equally long wildcards the first written wins.
    this.suffixes.sort((a, b) => b.p.suffix.length - a.p.suffix.length);
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
    // The first server without a server_name is the default; otherwise the first one.
    const first = servers[0];
    if (first === undefined) throw new RangeError('a VHostGroup needs at least one server');
    this.fallback = preferred ?? servers.find((s) => s.serverNames.length === 0) ?? first;
    this.first = preferred ?? first;
  }

  /** The server whose server_name equals `host` exactly (lower case, a final dot ignored), or undefined. */
  named(host: string): ServerConfig | undefined {
    return this.byName.get(host) ?? this.byName.get(host.endsWith('.') ? host.slice(0, -1) : host);
  }

  /**
   * The server for `host` (lower case, port stripped) in nginx's order: the exact name; the longest wildcard
   * starting with "*" (".example.com" also takes "example.com"); the longest ending with "*"; the first regex in
   * file order; else the default.
   */
  select(host: string): ServerConfig {
    if (host === '') return this.fallback;
    const h = host.endsWith('.') ? host.slice(0, -1) : host;
    const exact = this.named(host);
    if (exact !== undefined) return exact;
    for (const { p, s } of this.suffixes) {
      if ((h.endsWith(p.suffix) && h.length > p.suffix.length) || (p.bare && h === p.suffix.slice(1))) return s;
    }
    for (const { prefix, s } of this.prefixes) if (h.startsWith(prefix) && h.length > prefix.length) return s;
    for (const { regex, s } of this.regexes) if (regex.test(h)) return s;
    return this.fallback;
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
      const on = (pred: (host: string) => boolean): ServerConfig[] =>
        this.servers.filter((s) => s.listens.some((l) => l.port === port && pred(l.host)));
      const family6 = addr.includes(':');
      const exact = on((h) => h === addr);
      const wild = on((h) => isWildcard(h) && (h === '::') === family6);
      const anyWild = on(isWildcard);
      const chosen = exact.length > 0 ? exact : wild.length > 0 ? wild : anyWild;
      const marked = chosen.find((s) =>
        s.listens.some((l) => l.port === port && l.defaultServer && (l.host === addr || isWildcard(l.host))),
      );
      g = chosen.length > 0 ? new VHostGroup(chosen, marked) : null;
      this.groups.set(key, g);
    }
    return g;
  }
}
