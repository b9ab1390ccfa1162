/**
 * FastCGI's configuration (docs/ARCHITECTURE.md "Gateway"): `fastcgi_pass` targets, `fastcgi_param` templates with
 * the variables they may name, and the location's FastCGI settings. Pure: values in, values or messages out.
 */
import { err, ok, type Result } from '../lib/result.js';
import { compileTemplate } from '../router/variables.js';
import { parseAddress, type UpstreamConfig } from './proxy.js';
import type { Template } from './routing-types.js';

/** The variables only fastcgi_param knows (nginx's names), on top of the router's (router/variables.ts). */
export const FASTCGI_VARIABLES: ReadonlySet<string> = new Set([
  'fastcgi_script_name',
  'fastcgi_path_info',
  'content_type',
  'content_length',
  'server_protocol',
  'request_scheme',
  'https',
  'remote_port',
  'server_addr',
  'remote_user',
]);

/** One `fastcgi_param NAME VALUE [if_not_empty]`. */
export interface FastcgiParam {
  readonly name: string;
  readonly value: Template;
  /** Sent only when the value expands to something. */
  readonly ifNotEmpty: boolean;
}

/** A location's FastCGI settings. */
export interface FastcgiConfig {
  /** The servers requests go to: the named upstream block, or the one address written. */
  readonly upstream: UpstreamConfig;
  /** `fastcgi_param`s in order; each replaces the default of the same name (README "FastCGI"). */
  readonly params: readonly FastcgiParam[];
  /** `fastcgi_index`: appended to a URI ending in "/"; "" when absent. */
  readonly index: string;
  /** `fastcgi_split_path_info`: its two captures are the script name and PATH_INFO; null when absent. */
  readonly splitPathInfo: RegExp | null;
  /** `fastcgi_keep_conn on`: FCGI_KEEP_CONN is set and finished connections go back to the pool. */
  readonly keepConn: boolean;
  /** `fastcgi_connect_timeout`, `fastcgi_read_timeout`, `fastcgi_send_timeout`, in ms. */
  readonly connectTimeout: number;
  readonly readTimeout: number;
  readonly sendTimeout: number;
}

/**
 * Idle connections kept for a bare `fastcgi_pass ADDR` (by `fastcgi_keep_conn on` requests; nginx needs an upstream
 * block for any). Each holds a php-fpm child, so it stays below Debian's default pm.max_children (5): with fewer
 * idle connections than children, one child is always free to take a new connection.
 */
export const FASTCGI_DEFAULT_KEEPALIVE = 4;

/** A parsed `fastcgi_pass`: an upstream block's name (resolved once the file is read), or one address. */
export type FastcgiPass =
  | { readonly kind: 'upstream'; readonly name: string }
  | { readonly kind: 'address'; readonly upstream: UpstreamConfig };

/** `fastcgi_pass ADDR:PORT | unix:/PATH | NAME`; ADDR an IP literal or "localhost" (no DNS on the loop). */
export function parseFastcgiPass(v: string): Result<FastcgiPass, string> {
  const expect = 'expected ADDR:PORT, unix:/PATH or the name of an upstream block';
  if (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(v) && v.toLowerCase() !== 'localhost') return ok({ kind: 'upstream', name: v });
  if (!v.startsWith('unix:') && !/:\d{1,5}$/.test(v))
    return err(`bad fastcgi_pass "${v}": a port is needed; ${expect}`);
  const a = parseAddress(v);
  if (!a.ok) return err(`bad fastcgi_pass "${v}": ${a.error}; ${expect}`);
  const address = a.value.address;
  const text =
    address.kind === 'tcp'
      ? address.host.includes(':')
        ? `[${address.host}]:${address.port}`
        : `${address.host}:${address.port}`
      : `unix:${address.path}`;
  const server = {
    address,
    text,
    hostHeader: a.value.hostHeader,
    weight: 1,
    maxFails: 0,
    failTimeout: 10_000,
    backup: false,
  };
  return ok({ kind: 'address', upstream: { name: text, servers: [server], keepalive: 0 } });
}

/** `fastcgi_param NAME VALUE [if_not_empty]`'s name: what php-fpm accepts as an environment name. */
export function parseParamName(v: string): Result<string, string> {
  if (/^[A-Za-z0-9_.-]{1,255}$/.test(v)) return ok(v);
  return err(`bad fastcgi_param name "${v}": letters, digits, "_", "-" and "." only`);
}

/** A fastcgi_param value: text with nginx's variables, the FastCGI ones included. */
export function parseParamValue(v: string): Result<Template, string> {
  if (/[\0]/.test(v)) return err('a fastcgi_param value cannot hold NUL');
  const t = compileTemplate(v, false, FASTCGI_VARIABLES);
  return t.ok ? ok(t.value) : err(t.error.message);
}

/** `fastcgi_split_path_info REGEX`: a regex with two captures, the script name and the path info. */
export function parseSplitPathInfo(v: string): Result<RegExp, string> {
  let re: RegExp;
  try {
    re = new RegExp(v);
  } catch (e) {
    return err(`bad fastcgi_split_path_info "${v}": ${e instanceof Error ? e.message : String(e)}`);
  }
  // Two groups: a match with fewer would leave SCRIPT_NAME or PATH_INFO undefined.
  const groups = new RegExp(`${v}|`).exec('')?.length ?? 0;
  if (groups - 1 < 2) return err(`bad fastcgi_split_path_info "${v}": it needs two captures, as in ^(.+\\.php)(/.*)$`);
  return ok(re);
}

/** The script name and path info of `uri` (nginx's $fastcgi_script_name and $fastcgi_path_info). */
export function scriptNameOf(cfg: FastcgiConfig, uri: string): { scriptName: string; pathInfo: string } {
  let scriptName = uri;
  let pathInfo = '';
  const m = cfg.splitPathInfo?.exec(uri) ?? null;
  if (m !== null) {
    scriptName = m[1] ?? '';
    pathInfo = m[2] ?? '';
  }
  if (cfg.index !== '' && scriptName.endsWith('/')) scriptName += cfg.index;
  return { scriptName, pathInfo };
}
