/**
 * The reverse proxy's configuration (docs/ARCHITECTURE.md "Gateway"): `proxy_pass` targets, the header
 * templates of `proxy_set_header` with the variables they may name, and the location's proxy settings.
 */
import { isIP } from 'node:net';
import { err, ok, type Result } from '../lib/result.js';

/** Where an upstream server listens: an IP literal and port, or a unix-domain socket. */
export type UpstreamAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/** One `server ADDR:PORT [weight=N] [max_fails=N] [fail_timeout=T] [backup]` of an upstream block. */
export interface UpstreamServer {
  readonly address: UpstreamAddress;
  /** `host:port` or `unix:/path`, for logs. */
  readonly text: string;
  /** The Host header it gets by default. */
  readonly hostHeader: string;
  readonly weight: number;
  /** Failures within failTimeout that take it out for failTimeout; 0: never. nginx's defaults: 1, 10 s. */
  readonly maxFails: number;
  readonly failTimeout: number;
  /** Used only while every other server is down. */
  readonly backup: boolean;
}

/** `upstream NAME { ... }`, or the single server of a `proxy_pass http://ADDR:PORT`. */
export interface UpstreamConfig {
  readonly name: string;
  readonly servers: readonly UpstreamServer[];
  /** `keepalive N`: idle connections kept for reuse; 0 (default, and for a bare address): none. */
  readonly keepalive: number;
}

/** A parsed `proxy_pass` URL. */
export interface ProxyPassUrl {
  /** `http://NAME`: the upstream block it names (resolved after the whole file is read); else null. */
  readonly upstreamName: string | null;
  readonly address: UpstreamAddress;
  /** The Host header the upstream gets by default (`$proxy_host`): `host[:port]`, "localhost" for a socket. */
  readonly hostHeader: string;
  /** The URI part (from the first "/" after the authority), or null when the URL has none: nginx's two
   *  mappings (docs/ARCHITECTURE.md "Gateway"). */
  readonly uri: string | null;
  /** The URL as written, for logs. */
  readonly text: string;
}

/** The variables a header template may use (nginx's names), plus `$http_NAME`. */
export const PROXY_VARIABLES: ReadonlySet<string> = new Set([
  'host',
  'remote_addr',
  'remote_port',
  'realip_remote_addr',
  'realip_remote_port',
  'server_addr',
  'server_port',
  'scheme',
  'request_method',
  'request_uri',
  'uri',
  'args',
  'query_string',
  'proxy_host',
  'proxy_add_x_forwarded_for',
]);

/** A header value template: literal text and variables, in order. */
export type Template = readonly ({ readonly text: string } | { readonly variable: string })[];

/** `proxy_set_header NAME VALUE`. */
export interface HeaderSetting {
  /** Lower case. */
  readonly name: string;
  /** As written (sent in this case). */
  readonly display: string;
  readonly value: Template;
}

/** A location's proxy settings. */
export interface ProxyConfig {
  readonly pass: ProxyPassUrl;
  /** The servers requests go to: the named upstream block, or the one address of the URL. */
  readonly upstream: UpstreamConfig;
  /** The defaults (Host, X-Forwarded-*, X-Real-IP) overridden by `proxy_set_header`, in order. */
  readonly setHeaders: readonly HeaderSetting[];
  /** `proxy_hide_header`: upstream response fields not passed on (lower case). */
  readonly hideHeaders: ReadonlySet<string>;
  /** `proxy_pass_header`: fields hidden by default that are passed on after all (lower case). */
  readonly passHeaders: ReadonlySet<string>;
  /** `proxy_connect_timeout`, `proxy_read_timeout`, `proxy_send_timeout`, in ms. */
  readonly connectTimeout: number;
  readonly readTimeout: number;
  readonly sendTimeout: number;
}

/** nginx's defaults for the three timeouts. */
export const PROXY_TIMEOUT_DEFAULT = 60_000;

/** `http://HOST[:PORT][/URI]` or `http://unix:/PATH:[/URI]`. HOST is an IP literal or "localhost" (names would
 *  need dns.lookup, which runs on the thread pool). */
export function parseProxyPass(v: string): Result<ProxyPassUrl, string> {
  const expect = 'expected http://ADDR:PORT[/URI] or http://unix:/PATH:[/URI], ADDR an IP address';
  if (/^https:\/\//i.test(v)) return err(`bad proxy_pass "${v}": https upstreams are not supported; ${expect}`);
  if (!/^http:\/\//i.test(v)) return err(`bad proxy_pass "${v}": ${expect}`);
  if (/[\s\x00-\x1f\x7f#]/.test(v)) return err(`bad proxy_pass "${v}": no spaces, controls or "#"`);
  const rest = v.slice(7);
  if (rest.startsWith('unix:')) {
    const end = rest.indexOf(':', 5);
    const p = end < 0 ? '' : rest.slice(5, end);
    if (!p.startsWith('/')) return err(`bad proxy_pass "${v}": a socket is written http://unix:/PATH: (absolute)`);
    const uri = rest.slice(end + 1);
    if (uri !== '' && !uri.startsWith('/'))
      return err(`bad proxy_pass "${v}": the URI after the socket starts with "/"`);
    const address = { kind: 'unix', path: p } as const;
    return ok({ upstreamName: null, address, hostHeader: 'localhost', uri: uri === '' ? null : uri, text: v });
  }
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const uri = slash < 0 ? null : rest.slice(slash);
  // A name with no port that is no address names an upstream block.
  if (
    /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(authority) &&
    authority.toLowerCase() !== 'localhost' &&
    isIP(authority) === 0
  ) {
    const address = { kind: 'tcp', host: '', port: 0 } as const;
    return ok({ upstreamName: authority, address, hostHeader: authority, uri, text: v });
  }
  const a = parseAddress(authority);
  if (!a.ok) return err(`bad proxy_pass "${v}": ${a.error}; ${expect}`);
  return ok({ upstreamName: null, address: a.value.address, hostHeader: a.value.hostHeader, uri, text: v });
}

/** `ADDR[:PORT]` (port 80 when absent), ADDR an IP literal or "localhost"; or `unix:/PATH`. */
export function parseAddress(authority: string): Result<{ address: UpstreamAddress; hostHeader: string }, string> {
  if (authority.startsWith('unix:')) {
    const p = authority.slice(5);
    if (!p.startsWith('/')) return err(`"${authority}": a socket path is absolute`);
    return ok({ address: { kind: 'unix', path: p }, hostHeader: 'localhost' });
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(authority);
  const hostText = m?.[1];
  if (m === null || hostText === undefined) return err(`bad address "${authority}"`);
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (port < 1 || port > 65535) return err(`port ${port} is not in 1..65535`);
  const bare = hostText.startsWith('[') ? hostText.slice(1, -1) : hostText;
  const host = bare.toLowerCase() === 'localhost' ? '127.0.0.1' : bare;
  if (isIP(host) === 0) return err(`"${hostText}" is not an IP address`);
  const hostHeader = port === 80 ? hostText.toLowerCase() : `${hostText.toLowerCase()}:${port}`;
  return ok({ address: { kind: 'tcp', host, port }, hostHeader });
}

/** The upstream of a `proxy_pass` to one address: that server, never marked down, no keep-alive. */
export function singleUpstream(pass: ProxyPassUrl): UpstreamConfig {
  const a = pass.address;
  const text =
    a.kind === 'tcp' ? (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`) : `unix:${a.path}`;
  const server = {
    address: a,
    text,
    hostHeader: pass.hostHeader,
    weight: 1,
    maxFails: 0,
    failTimeout: 10_000,
    backup: false,
  };
  return { name: text, servers: [server], keepalive: 0 };
}

/** Parses a header value with `$name` / `${name}` variables; unknown variables are errors. */
export function parseTemplate(v: string): Result<Template, string> {
  const parts: ({ text: string } | { variable: string })[] = [];
  const re = /\$(?:\{([a-z_][a-z0-9_]*)\}|([a-z_][a-z0-9_]*))/gi;
  let last = 0;
  for (const m of v.matchAll(re)) {
    const name = (m[1] ?? m[2] ?? '').toLowerCase();
    if (!PROXY_VARIABLES.has(name) && !/^http_[a-z0-9_]+$/.test(name)) {
      return err(`unknown variable "$${name}" (known: $${[...PROXY_VARIABLES].join(', $')}, $http_NAME)`);
    }
    if (m.index > last) parts.push({ text: v.slice(last, m.index) });
    parts.push({ variable: name });
    last = m.index + m[0].length;
  }
  if (last < v.length) parts.push({ text: v.slice(last) });
  if (/[\r\n\0]/.test(v)) return err('a header value cannot hold CR, LF or NUL');
  return ok(parts);
}

/** The headers every proxied request carries unless `proxy_set_header` names them (Caddy's and most setups'). */
export const DEFAULT_PROXY_HEADERS: readonly HeaderSetting[] = [
  { name: 'host', display: 'Host', value: [{ variable: 'proxy_host' }] },
  { name: 'x-real-ip', display: 'X-Real-IP', value: [{ variable: 'remote_addr' }] },
  { name: 'x-forwarded-for', display: 'X-Forwarded-For', value: [{ variable: 'proxy_add_x_forwarded_for' }] },
  { name: 'x-forwarded-proto', display: 'X-Forwarded-Proto', value: [{ variable: 'scheme' }] },
  { name: 'x-forwarded-host', display: 'X-Forwarded-Host', value: [{ variable: 'host' }] },
];

/** The defaults with `written` applied: a written name replaces its default in place, new names follow. */
export function mergeHeaderSettings(written: readonly HeaderSetting[]): HeaderSetting[] {
  const out = DEFAULT_PROXY_HEADERS.filter((d) => !written.some((w) => w.name === d.name));
  return [...out, ...written];
}
