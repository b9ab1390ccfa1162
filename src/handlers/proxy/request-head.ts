/**
 * The head of the request sent upstream (docs/ARCHITECTURE.md "Gateway"): the client's fields minus the hop-by-hop
 * ones (RFC 9110 §7.6.1), the `proxy_set_header` settings over the defaults (Host, X-Real-IP, X-Forwarded-*),
 * and our own framing; for a request that asks to switch protocols, its Upgrade (§7.8). Pure.
 */
import type { HeaderSetting, Template } from '../../config/proxy.js';
import { headerLine } from '../../http/response.js';
import { HOP_BY_HOP } from './response-head.js';

/** The facts a template's variables are taken from. */
export interface RequestFacts {
  readonly method: string;
  /** The request-target as the client sent it. */
  readonly target: string;
  readonly rawPath: string;
  readonly query: string;
  /** The normalised path. */
  readonly path: string;
  readonly host: string;
  /** Client fields by lower-case name. */
  readonly headers: ReadonlyMap<string, string>;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The connection's peer, whatever set_real_ip_from made of `remoteAddress`. */
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly scheme: string;
  /** The upstream's own Host value ($proxy_host). */
  readonly proxyHost: string;
}

/** The value of one variable (nginx's meaning). */
function variable(name: string, f: RequestFacts): string {
  switch (name) {
    case 'host':
      return f.host !== '' ? f.host : f.localAddress;
    case 'remote_addr':
      return f.remoteAddress;
    case 'remote_port':
      return f.remotePort > 0 ? String(f.remotePort) : '';
    case 'realip_remote_addr':
      return f.peerAddress;
    case 'realip_remote_port':
      return String(f.peerPort);
    case 'server_addr':
      return f.localAddress;
    case 'server_port':
      return String(f.localPort);
    case 'scheme':
      return f.scheme;
    case 'request_method':
      return f.method;
    case 'request_uri':
      return f.target;
    case 'uri':
      return f.path;
    case 'args':
    case 'query_string':
      return f.query;
    case 'proxy_host':
      return f.proxyHost;
    case 'proxy_add_x_forwarded_for': {
      const prior = f.headers.get('x-forwarded-for');
      return prior === undefined || prior === '' ? f.remoteAddress : `${prior}, ${f.remoteAddress}`;
    }
    default:
      return name.startsWith('http_') ? (f.headers.get(name.slice(5).replaceAll('_', '-')) ?? '') : '';
  }
}

/** A template's value for this request. */
export function expand(t: Template, f: RequestFacts): string {
  let s = '';
  for (const part of t) s += 'text' in part ? part.text : variable(part.variable, f);
  return s;
}

/** `user-agent` → `User-Agent` (field names are case-insensitive; this is only the usual spelling). */
function display(lower: string): string {
  return lower.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** How the request body is framed upstream: none, a length, or chunked (the client's chunked body, re-chunked). */
export type BodyFraming =
  { readonly kind: 'none' } | { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' };

/**
 * The protocols a request asks to switch to (RFC 9110 §7.8): its Upgrade value when `Connection` lists `upgrade`,
 * for a GET of HTTP/1.1 without a body (RFC 6455 §4.1's opening handshake); else null.
 */
export function upgradeOf(h: {
  readonly method: string;
  readonly minor: 0 | 1;
  readonly headers: ReadonlyMap<string, string>;
  readonly contentLength: number;
  readonly chunked: boolean;
}): string | null {
  if (h.method !== 'GET' || h.minor !== 1 || h.chunked || h.contentLength > 0) return null;
  const value = h.headers.get('upgrade')?.trim() ?? '';
  if (value === '') return null;
  const tokens = (h.headers.get('connection') ?? '').toLowerCase().split(',');
  return tokens.some((t) => t.trim() === 'upgrade') ? value : null;
}

/** Fields the proxy writes itself whatever `proxy_set_header` says: the connection's own (RFC 9110 §7.6.1). */
const OWN_FIELDS: ReadonlySet<string> = new Set(['connection', 'upgrade']);

/**
 * The whole upstream request head. `keepAlive`: ask to keep the connection (a pooled upstream); `upgrade`: the
 * client's Upgrade value, passed on with `Connection: upgrade` (null: none, and the connection's own framing).
 */
export function upstreamRequestHead(
  target: string,
  f: RequestFacts,
  settings: readonly HeaderSetting[],
  body: BodyFraming,
  keepAlive: boolean,
  upgrade: string | null = null,
): string {
  let head = `${f.method} ${target} HTTP/1.1\r\n`;
  const set = new Set<string>();
  for (const s of settings) {
    set.add(s.name);
    // nginx's WebSocket recipe sets these two; here they follow the request (see `upgrade`).
    if (OWN_FIELDS.has(s.name)) continue;
    const v = expand(s.value, f);
    // As in nginx, a setting whose value comes out empty sends no field.
    if (v !== '') head += headerLine(s.display, v);
  }
  const listed = new Set(
    (f.headers.get('connection') ?? '')
      .toLowerCase()
      .split(',')
      .map((t) => t.trim()),
  );
  for (const [name, value] of f.headers) {
    if (set.has(name) || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (name === 'host' || name === 'content-length' || name === 'expect') continue;
    head += headerLine(display(name), value);
  }
  if (body.kind === 'length') head += `Content-Length: ${body.length}\r\n`;
  else if (body.kind === 'chunked') head += 'Transfer-Encoding: chunked\r\n';
  if (upgrade !== null) return head + headerLine('Upgrade', upgrade) + 'Connection: upgrade\r\n\r\n';
  head += keepAlive ? 'Connection: keep-alive\r\n\r\n' : 'Connection: close\r\n\r\n';
  return head;
}
