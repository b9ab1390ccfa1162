/**
 * nginx's variables in directive text (issue 17): compiled once at load time into a Template, expanded per
 * request from a VarContext. Pure: the context carries every fact (the filesystem's only through a callback).
 */
import { err, ok, type Result } from '../lib/result.js';
import type { Template, TemplatePart } from '../config/routing-types.js';

/** The variables with a fixed name. `$status` is known only once a response exists (add_header). */
const NAMED: ReadonlySet<string> = new Set([
  'scheme',
  'host',
  'server_name',
  'server_port',
  'request_uri',
  'uri',
  'document_uri',
  'args',
  'query_string',
  'is_args',
  'remote_addr',
  'realip_remote_addr',
  'request_method',
  'document_root',
  'realpath_root',
  'status',
]);
/** Families: `$arg_NAME` (a query argument), `$http_NAME` (a request header), `$cookie_NAME`. */
const FAMILIES = ['arg_', 'http_', 'cookie_'] as const;

/** Everything a request offers to variables. */
export interface VarContext {
  readonly scheme: string;
  /** The Host header's name (lower case, no port), else the server's first name. */
  readonly host: string;
  readonly serverName: string;
  readonly serverPort: number;
  /** The request-target as the client sent it (path and query, undecoded). */
  readonly requestUri: string;
  /** The current URI: decoded, normalised, changed by rewrite and try_files. */
  readonly uri: string;
  /** The current query string, without "?". */
  readonly args: string;
  readonly remoteAddr: string;
  /** The connection's peer, whatever set_real_ip_from made of `remoteAddr` (nginx's realip). */
  readonly realipRemoteAddr: string;
  readonly method: string;
  /** Request headers by lower-case name. */
  readonly headers: ReadonlyMap<string, string>;
  /** The location's root ("" when none). */
  readonly documentRoot: string;
  /** The root with symlinks resolved (called only when `$realpath_root` is used). */
  readonly realpathRoot: () => string;
  /** Captures of the last regex matched: index 1 is `$1`. */
  readonly captures: readonly (string | undefined)[];
  /** The response status, 0 before there is one. */
  readonly status: number;
}

const NO_NAMES: ReadonlySet<string> = new Set();

/** Why a text could not be compiled: the offset of the bad `$` in it, and the reason. */
export interface TemplateError {
  readonly offset: number;
  readonly message: string;
}

/** True for a variable name this module can expand. */
export function knownVariable(name: string): boolean {
  return NAMED.has(name) || FAMILIES.some((f) => name.startsWith(f) && name.length > f.length);
}

/**
 * Splits `source` into text, variables (`$name`, `${name}`) and captures (`$1`..`$9`). An unknown name is an
 * error (nginx refuses it too: "unknown variable"). `allowStatus`: `$status` may be used (response headers);
 * `extra`: names a caller expands itself (fastcgi_param's $fastcgi_script_name...).
 */
export function compileTemplate(
  source: string,
  allowStatus = false,
  extra: ReadonlySet<string> = NO_NAMES,
): Result<Template, TemplateError> {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const c = source.charAt(i);
    if (c !== '$') {
      text += c;
      i += 1;
      continue;
    }
    const start = i;
    let name: string;
    if (source.charAt(i + 1) === '{') {
      const close = source.indexOf('}', i + 2);
      if (close < 0) return err({ offset: start, message: 'the "${" has no closing "}"' });
      name = source.slice(i + 2, close);
      i = close + 1;
    } else if (/[0-9]/.test(source.charAt(i + 1))) {
      name = source.charAt(i + 1); // $1 is one digit, as in nginx: "$12" is $1 then "2"
      i += 2;
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(source.slice(i + 1));
      if (m === null) {
        // A lone "$" (end of a regex replacement, "$)") is text, as nginx keeps it.
        text += c;
        i += 1;
        continue;
      }
      name = m[0];
      i += 1 + name.length;
    }
    if (/^[0-9]$/.test(name)) {
      if (text !== '') parts.push({ kind: 'text', text });
      text = '';
      parts.push({ kind: 'capture', index: Number(name) });
      continue;
    }
    const lower = name.toLowerCase();
    if ((!knownVariable(lower) && !extra.has(lower)) || (lower === 'status' && !allowStatus)) {
      const why = lower === 'status' ? ' here ($status exists only in response headers)' : '';
      return err({ offset: start, message: `unknown variable "$${name}"${why}` });
    }
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
    parts.push({ kind: 'var', name: lower });
  }
  if (text !== '') parts.push({ kind: 'text', text });
  return ok({ source, parts });
}

/** A template of plain text (no variables). */
export function literalTemplate(text: string): Template {
  return { source: text, parts: text === '' ? [] : [{ kind: 'text', text }] };
}

/** True when the template uses a capture (`$1`…). */
export function usesCaptures(t: Template): boolean {
  return t.parts.some((p) => p.kind === 'capture');
}

/** The first `name=value` argument of a query string (names compared case-insensitively, as nginx). */
export function queryArgument(args: string, name: string): string {
  if (args === '') return '';
  const want = name.toLowerCase();
  for (const pair of args.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (key.toLowerCase() === want) return eq < 0 ? '' : pair.slice(eq + 1);
  }
  return '';
}

/** The value of one cookie from a Cookie header ("" when absent). */
function cookieValue(header: string | undefined, name: string): string {
  if (header === undefined) return '';
  for (const item of header.split(';')) {
    const eq = item.indexOf('=');
    if (eq > 0 && item.slice(0, eq).trim() === name) return item.slice(eq + 1).trim();
  }
  return '';
}

/** The value of one variable (known names only; an unknown one expands to ""). */
export function variableValue(name: string, ctx: VarContext): string {
  switch (name) {
    case 'scheme':
      return ctx.scheme;
    case 'host':
      return ctx.host;
    case 'server_name':
      return ctx.serverName;
    case 'server_port':
      return String(ctx.serverPort);
    case 'request_uri':
      return ctx.requestUri;
    case 'uri':
    case 'document_uri':
      return ctx.uri;
    case 'args':
    case 'query_string':
      return ctx.args;
    case 'is_args':
      return ctx.args === '' ? '' : '?';
    case 'remote_addr':
      return ctx.remoteAddr;
    case 'realip_remote_addr':
      return ctx.realipRemoteAddr;
    case 'request_method':
      return ctx.method;
    case 'document_root':
      return ctx.documentRoot;
    case 'realpath_root':
      return ctx.realpathRoot();
    case 'status':
      return ctx.status === 0 ? '' : String(ctx.status).padStart(3, '0');
  }
  if (name.startsWith('arg_')) return queryArgument(ctx.args, name.slice(4));
  // $http_user_agent is the User-Agent header: "_" stands for "-" (nginx).
  if (name.startsWith('http_')) return ctx.headers.get(name.slice(5).replaceAll('_', '-')) ?? '';
  if (name.startsWith('cookie_')) return cookieValue(ctx.headers.get('cookie'), name.slice(7));
  return '';
}

/** Expands `t` in `ctx`; `captures` overrides the context's (a rewrite's own regex). */
export function expand(t: Template, ctx: VarContext, captures = ctx.captures): string {
  let out = '';
  for (const p of t.parts) {
    if (p.kind === 'text') out += p.text;
    else if (p.kind === 'var') out += variableValue(p.name, ctx);
    else out += captures[p.index] ?? '';
  }
  return out;
}
