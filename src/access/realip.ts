/**
 * nginx's ngx_http_realip_module, the pure part (docs/ARCHITECTURE.md "Access control"): from the connection's
 * peer, the configured header's value and the trusted blocks, the client address (and port) the request is
 * served for. The request cycle applies it once, before anything reads the address.
 */
import { blockHolds, mappedIPv4, parseAddress, parseIPv4, type Address, type Block } from './cidr.js';

/** `set_real_ip_from`, `real_ip_header`, `real_ip_recursive` as one level resolved them. */
export interface RealIpConfig {
  /** The trusted blocks (`set_real_ip_from ADDR|CIDR`). */
  readonly from: readonly Block[];
  /** `set_real_ip_from unix:`: peers on UNIX-domain sockets are trusted. */
  readonly unix: boolean;
  /** The header's lower-case name (`real_ip_header`, default `x-real-ip` as nginx). */
  readonly header: string;
  /** `real_ip_recursive on`: skip trusted addresses from the right. */
  readonly recursive: boolean;
}

/** The client the header names: its address as text (nginx's form) and port (0 when the header gave none). */
export interface RealClient {
  readonly address: string;
  readonly port: number;
}

/** Whether `addr` is one of the trusted blocks; an IPv4-mapped address is also tried as IPv4 (nginx's cidr match). */
export function trusted(addr: Address, from: readonly Block[]): boolean {
  for (const b of from) if (blockHolds(b, addr)) return true;
  if (addr.family !== 6) return false;
  const v4 = mappedIPv4(addr.v6);
  if (v4 === null) return false;
  const as4: Address = { family: 4, v4 };
  return from.some((b) => blockHolds(b, as4));
}

/**
 * One list element as nginx's ngx_parse_addr_port reads it: `ADDR`, `V4:PORT` or `[V6]:PORT` (RFC 3986's
 * authority form; `[V6]` alone is refused as nginx does). Null when it is not an address.
 */
export function parseAddrPort(s: string): { readonly addr: Address; readonly port: number } | null {
  const bare = parseAddress(s);
  if (bare !== null) return { addr: bare, port: 0 };
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s.charAt(close + 1) !== ':') return null;
    host = s.slice(1, close);
    portText = s.slice(close + 2);
  } else {
    const colon = s.indexOf(':');
    if (colon < 0) return null;
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (parseIPv4(host) === null) return null; // an unbracketed IPv6 has no port
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
  if (port < 1 || port > 65535) return null;
  const addr = parseAddress(host);
  return addr === null ? null : { addr, port };
}

/** An address as nginx prints it (ngx_sock_ntop): dotted IPv4; IPv6 lower-case with the longest zero run as "::"
 *  (RFC 5952 §4.2), an IPv4-mapped one as `::ffff:a.b.c.d`. */
export function formatAddress(a: Address): string {
  if (a.family === 4) return `${a.v4 >>> 24}.${(a.v4 >>> 16) & 255}.${(a.v4 >>> 8) & 255}.${a.v4 & 255}`;
  const v4 = mappedIPv4(a.v6);
  if (v4 !== null) return `::ffff:${formatAddress({ family: 4, v4 })}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((a.v6[2 * i] ?? 0) << 8) | (a.v6[2 * i + 1] ?? 0));
  let best = -1;
  let bestLen = 1; // a single zero group is not shortened (RFC 5952 §4.2.2)
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/**
 * The client a request is served for, or null to keep the peer (nginx's ngx_http_get_forwarded_addr): nothing
 * changes unless the peer is trusted. The header's value is a list read from the right: without `recursive` its
 * last element is the client; with it, elements are taken while the address before them is trusted, so the
 * result is the rightmost untrusted one (or the leftmost, when all are trusted). An element that is not an
 * address stops the walk there (keeping the peer if it was the first).
 */
export function realClient(peer: string, value: string | undefined, cfg: RealIpConfig): RealClient | null {
  if (value === undefined) return null;
  // A peer without an IP address ("") came over a UNIX-domain socket.
  const peerAddr = peer === '' ? null : parseAddress(peer);
  if (peer === '' ? !cfg.unix : peerAddr === null || !trusted(peerAddr, cfg.from)) return null;
  const items = value.split(/[ ,]+/);
  let found: { readonly addr: Address; readonly port: number } | null = null;
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i] ?? '';
    if (item === '') continue; // leading or trailing separators
    if (found !== null && !trusted(found.addr, cfg.from)) break;
    const next = parseAddrPort(item);
    if (next === null) break;
    found = next;
    if (!cfg.recursive) break;
  }
  return found === null ? null : { address: formatAddress(found.addr), port: found.port };
}

/** One level's realip directives as written (undefined: not written there, inherit). */
export interface RealIpDraft {
  from?: Block[];
  unix?: boolean;
  header?: string;
  recursive?: boolean;
}

/**
 * `inner` written inside `outer` (null: the outer level trusts nobody): nginx's merge, where a level with any
 * `set_real_ip_from` replaces the outer list and the header and recursion are inherited one by one. Null when
 * nobody is trusted (the request cycle then never looks at a header). A level that writes nothing gets the
 * outer object itself, so the cycle can tell that a location adds nothing to its server.
 */
export function mergeRealIp(
  inner: RealIpDraft,
  outer: RealIpConfig | null,
  outerDraft: RealIpDraft,
): RealIpConfig | null {
  if (inner.from === undefined && inner.header === undefined && inner.recursive === undefined) return outer;
  const from = inner.from ?? outerDraft.from ?? [];
  const unix = inner.from !== undefined ? inner.unix === true : outerDraft.unix === true;
  if (from.length === 0 && !unix) return null;
  return {
    from,
    unix,
    header: inner.header ?? outerDraft.header ?? 'x-real-ip',
    recursive: inner.recursive ?? outerDraft.recursive ?? false,
  };
}
