/**
 * The FCGI_PARAMS of a request: the CGI variables the CGI gateway gives a script (RFC 3875 §4.1; cgi/env.ts),
 * which is nginx's `fastcgi_params` set plus SCRIPT_FILENAME and PATH_INFO, then the location's `fastcgi_param`s,
 * each replacing the default of its name. Pure apart from reading the exchange.
 */
import type { FastcgiConfig } from '../../config/fastcgi.js';
import type { Template } from '../../config/routing-types.js';
import { variableValue, type VarContext } from '../../router/variables.js';
import { cgiEnvironment, cgiRequest } from '../cgi/env.js';
import type { Exchange } from '../exchange.js';

/** What the router resolved for a FastCGI request. */
export interface FastcgiTarget {
  readonly cfg: FastcgiConfig;
  /** SCRIPT_FILENAME by default: the script name mapped under the location's root, as a file is. */
  readonly file: string;
  /** $fastcgi_script_name and $fastcgi_path_info. */
  readonly scriptName: string;
  readonly pathInfo: string;
  /** $document_root. */
  readonly root: string;
  /** The current URI ($uri, $document_uri) and the captures of the location's regex. */
  readonly uri: string;
  readonly captures: readonly (string | undefined)[];
}

/** The facts only fastcgi_param's variables need. */
interface FastcgiFacts {
  readonly target: FastcgiTarget;
  readonly contentLength: number | null;
  readonly ex: Exchange;
}

/** One FastCGI variable (config/fastcgi.ts FASTCGI_VARIABLES), or null when `name` is the router's. */
function fastcgiValue(name: string, f: FastcgiFacts): string | null {
  const ex = f.ex;
  switch (name) {
    case 'fastcgi_script_name':
      return f.target.scriptName;
    case 'fastcgi_path_info':
      return f.target.pathInfo;
    case 'content_type':
      return ex.head.headers.get('content-type') ?? '';
    case 'content_length':
      return f.contentLength === null ? '' : String(f.contentLength);
    case 'server_protocol':
      return `HTTP/1.${ex.head.minor}`;
    case 'request_scheme':
      return ex.secure ? 'https' : 'http';
    case 'https':
      return ex.secure ? 'on' : '';
    case 'remote_port':
      return ex.remotePort > 0 ? String(ex.remotePort) : '';
    case 'server_addr':
      return ex.localAddress;
    case 'remote_user':
      return ex.remoteUser ?? '';
  }
  return null;
}

function expandParam(t: Template, f: FastcgiFacts, vars: () => VarContext): string {
  let out = '';
  for (const p of t.parts) {
    if (p.kind === 'text') out += p.text;
    else if (p.kind === 'capture') out += f.target.captures[p.index] ?? '';
    else out += fastcgiValue(p.name, f) ?? variableValue(p.name, vars());
  }
  return out;
}

/** The router's variables of the exchange (router/dispatch.ts varContext's, from what an Exchange holds). */
function varsOf(ex: Exchange, target: FastcgiTarget): VarContext {
  const h = ex.head;
  return {
    scheme: ex.secure ? 'https' : 'http',
    host: h.host !== '' ? h.host : (ex.server.serverNames[0] ?? ''),
    serverName: ex.server.serverNames[0] ?? '',
    serverPort: ex.localPort,
    requestUri: h.target,
    uri: target.uri,
    args: h.query,
    remoteAddr: ex.remoteAddress,
    realipRemoteAddr: ex.peerAddress,
    method: h.method,
    headers: h.headers,
    documentRoot: target.root,
    realpathRoot: () => target.root,
    captures: target.captures,
    status: 0,
  };
}

/**
 * The pairs sent as FCGI_PARAMS. `contentLength` is the body's length, null without a body. The CGI gateway's
 * environment without PATH (php-fpm has its own), with DOCUMENT_URI and SERVER_ADDR (nginx's set), then the
 * location's fastcgi_params; `if_not_empty` drops an empty one, and its default with it (nginx).
 */
export function fastcgiParams(
  ex: Exchange,
  target: FastcgiTarget,
  contentLength: number | null,
): ReadonlyMap<string, string> {
  const script = {
    file: target.file,
    scriptName: target.scriptName,
    pathInfo: target.pathInfo,
    interpreter: '',
    root: target.root,
  };
  // A Map: a fastcgi_param name is the user's text, and "__proto__" would not land in an object.
  const env = new Map(Object.entries(cgiEnvironment(cgiRequest(ex), script, contentLength)));
  env.delete('PATH');
  env.set('DOCUMENT_URI', target.uri);
  env.set('SERVER_ADDR', ex.localAddress);
  const facts: FastcgiFacts = { target, contentLength, ex };
  let vars: VarContext | null = null;
  const lazyVars = (): VarContext => (vars ??= varsOf(ex, target));
  for (const p of target.cfg.params) {
    const value = expandParam(p.value, facts, lazyVars);
    if (p.ifNotEmpty && value === '') env.delete(p.name);
    else env.set(p.name, value);
  }
  return env;
}
