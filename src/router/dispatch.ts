/**
 * The router: from a request head and its server block to a location and a handler (docs/ARCHITECTURE.md
 * "Routing"). Decides everything that does not need the filesystem; handlers do the rest.
 *
 * Safe defaults (docs/ARCHITECTURE.md "Security rules"): a location without `methods` is read-only (GET, HEAD; POST only to CGI scripts);
 * POST stores and DELETE removes only where `methods` names them, and never in a location that runs CGI; a path
 * segment starting with "." is hidden unless the location says `dotfiles allow`.
 */
import type { LocationConfig, Method, ServerConfig } from '../config/types.js';
import { BUILTIN_METHODS, type RequestHead } from '../http/request.js';
import { headerLine, NO_BODY } from '../http/response.js';
import { findScript, serveCgi } from '../handlers/cgi/index.js';
import { serveDelete } from '../handlers/delete.js';
import { errorResponse } from '../handlers/error-page.js';
import type { BodyReceiver, Exchange, Handler } from '../handlers/exchange.js';
import { redirectResponse } from '../handlers/redirect.js';
import { serveProxy } from '../handlers/proxy/index.js';
import { serveFastcgi, type FastcgiTarget } from '../handlers/fastcgi/index.js';
import { scriptNameOf, type FastcgiConfig } from '../config/fastcgi.js';
import { serveStatic } from '../handlers/static.js';
import { serveMetrics } from '../handlers/metrics.js';
import { serveStatus } from '../handlers/status.js';
import { serveUpload } from '../handlers/upload.js';
import * as fs from 'node:fs';
import { statCached } from '../handlers/stat-cache.js';
import { bytesResponse } from '../http/response.js';
import { fileFor, findLocation } from './location.js';
import { encodePath, normalizePath } from './path.js';
import { REDIRECT_CODES, runPhase, type RouteState } from './rewrite.js';
import { expand, type VarContext } from './variables.js';

/** What the router decided for a request. */
export interface Plan {
  readonly location: LocationConfig | null;
  /** The normalised path ("" when the target could not be decoded). */
  readonly path: string;
  /** The head the handler sees: the query (and path) as rewrite and try_files left them. */
  readonly head: RequestHead;
  /** Runs the chosen handler with what the router resolved for it. */
  readonly run: (ex: Exchange) => BodyReceiver | null;
}

/** A plan step: `handler` with its target. */
function bound<T>(handler: Handler<T>, target: T): (ex: Exchange) => BodyReceiver | null {
  return (ex) => handler(ex, target);
}

/** The order built-in methods are listed in `Allow`; other written methods follow in the order written. */
const METHOD_ORDER: readonly Method[] = ['GET', 'HEAD', 'POST', 'DELETE'];
const READ_ONLY: ReadonlySet<Method> = new Set(['GET', 'HEAD']);
const SCRIPT_DEFAULT: ReadonlySet<Method> = new Set(['GET', 'HEAD', 'POST']);
/** What a file target answers: read, upload (POST) and delete; PUT, PATCH and the rest need a script. */
const FILE_METHODS: ReadonlySet<Method> = new Set(['GET', 'HEAD', 'POST', 'DELETE']);

/** The handler that answers with a fixed error status (and extra header lines). */
const answerError: Handler<{ readonly status: number; readonly headers: string }> = (ex, t) => {
  ex.respond(errorResponse(ex.server, t.status, { headers: t.headers }));
  return null;
};
const answer = (status: number, headers = ''): ((ex: Exchange) => BodyReceiver | null) =>
  bound(answerError, { status, headers });

const badRequest = answer(400);
const notFound = answer(404);

/** allowedMethods per location, computed once per configuration object (it runs on every request). */
const allowedSets = new WeakMap<
  LocationConfig,
  { readonly script: ReadonlySet<Method>; readonly file: ReadonlySet<Method> }
>();

/**
 * The methods `loc` allows for a path that is (`script`) or is not a CGI script. GET allows HEAD, as NGINX's
 * limit_except does. Without `methods`: GET and HEAD, plus POST to scripts. A file answers only the methods it
 * has a meaning for (FILE_METHODS); a location with `cgi` never stores or deletes files, so there POST, DELETE
 * and the rest reach scripts only.
 */
export function allowedMethods(loc: LocationConfig, script: boolean): ReadonlySet<Method> {
  let sets = allowedSets.get(loc);
  if (sets === undefined) {
    sets = { script: computeAllowed(loc, true), file: computeAllowed(loc, false) };
    allowedSets.set(loc, sets);
  }
  return script ? sets.script : sets.file;
}

/** What allowedMethods returns, computed. */
function computeAllowed(loc: LocationConfig, script: boolean): ReadonlySet<Method> {
  const written = loc.methods;
  let set: ReadonlySet<Method>;
  if (written === null) set = script ? SCRIPT_DEFAULT : READ_ONLY;
  else if (written.has('GET') && !written.has('HEAD')) set = new Set([...written, 'HEAD']);
  else set = written;
  if (!script) {
    const files = loc.cgi.size > 0 ? READ_ONLY : FILE_METHODS;
    set = new Set([...set].filter((m) => files.has(m)));
  }
  return set;
}

/** Whether `allowed` holds `method` (any token: a method outside Method is simply not allowed). */
function allows(allowed: ReadonlySet<string>, method: string): boolean {
  return allowed.has(method);
}

/** The `Allow` header value (RFC 9110 §10.2.1) for a set of allowed methods; OPTIONS is always answered. */
export function allowValue(allowed: ReadonlySet<Method>): string {
  const others = [...allowed].filter((m) => !METHOD_ORDER.includes(m) && m !== 'OPTIONS');
  return [...METHOD_ORDER.filter((m) => allowed.has(m)), ...others, 'OPTIONS'].join(', ');
}

/** Each server's recognized methods, computed once per configuration object. */
const recognized = new WeakMap<ServerConfig, ReadonlySet<Method>>();

/**
 * The methods `server` recognizes (RFC 9110 §9.1): the built-in ones and every one a location lists in
 * `methods`. Another token is 501 (§15.6.2); a recognized one that the target does not allow is 405.
 */
export function recognizedMethods(server: ServerConfig): ReadonlySet<Method> {
  let set = recognized.get(server);
  if (set === undefined) {
    set = new Set([...BUILTIN_METHODS, ...server.locations.flatMap((l) => [...(l.methods ?? [])])]);
    recognized.set(server, set);
  }
  return set;
}

/** 204 with `Allow`: the answer to OPTIONS (RFC 9110 §9.3.7). */
const answerOptions: Handler<string> = (ex, allow) => {
  ex.respond({ status: 204, headers: headerLine('Allow', allow), body: NO_BODY, length: 0 });
  return null;
};
const options = (allow: string): ((ex: Exchange) => BodyReceiver | null) => bound(answerOptions, allow);

/** 301 to a location's `redirect` URL. */
const answerRedirect: Handler<string> = (ex, to) => {
  ex.respond(redirectResponse(301, to));
  return null;
};

/**
 * True when a segment of `path` beyond the location's own prefix starts with "." (a dotfile or dot-directory),
 * other than a leading `/.well-known/` (RFC 8615: ACME challenges and the like must stay reachable).
 */
export function hiddenPath(loc: LocationConfig, path: string): boolean {
  if (path.indexOf('/.') === -1) return false;
  // The location's own prefix is exempt (its path for a prefix location, whatever root it maps to).
  const own = loc.match.kind === 'prefix' || loc.match.kind === 'stop' ? loc.path : '';
  const prefix = own.endsWith('/') ? own.slice(0, -1) : own;
  const from = prefix.length;
  const rest =
    path.startsWith('/.well-known', from) && (path.length === from + 12 || path[from + 12] === '/') ? from + 12 : from;
  return path.indexOf('/.', rest) !== -1;
}

/** What the connection knows that variables need (`$remote_addr`, `$server_port`, `$scheme`). */
export interface ConnInfo {
  /** The client's address (after set_real_ip_from). */
  readonly remoteAddress: string;
  /** The connection's peer ($realip_remote_addr). */
  readonly peerAddress: string;
  readonly localPort: number;
  readonly scheme: string;
}

const NO_CONN: ConnInfo = { remoteAddress: '', peerAddress: '', localPort: 0, scheme: 'http' };

/** Location searches one request may make (nginx: "rewrite or internal redirection cycle" after 10). */
const MAX_CYCLES = 10;

/** The variables of a request in its current state. */
export function varContext(
  head: RequestHead,
  server: ServerConfig,
  conn: ConnInfo,
  loc: LocationConfig | null,
  state: RouteState,
  status = 0,
): VarContext {
  const root = loc?.root ?? '';
  return {
    scheme: conn.scheme,
    host: head.host !== '' ? head.host : (server.serverNames[0] ?? ''),
    serverName: server.serverNames[0] ?? '',
    serverPort: conn.localPort,
    requestUri: head.target,
    uri: state.uri,
    args: state.args,
    remoteAddr: conn.remoteAddress,
    realipRemoteAddr: conn.peerAddress,
    method: head.method,
    headers: head.headers,
    documentRoot: root,
    realpathRoot: () => {
      try {
        return root === '' ? '' : fs.realpathSync.native(root);
      } catch {
        return root;
      }
    },
    captures: state.captures,
    status,
  };
}

/** A path written by a directive (already decoded): dot segments removed, never decoded a second time. */
function cleanPath(uri: string): string | null {
  const n = normalizePath(uri.replaceAll('%', '%25'));
  return n.ok ? n.value : null;
}

/** The answer of `return CODE [TEXT]` or a redirecting rewrite. */
const answerReturn: Handler<{ readonly code: number; readonly text: string | null }> = (ex, t) => {
  if (REDIRECT_CODES.has(t.code) && t.text !== null) {
    ex.respond(redirectResponse(t.code as 301 | 302 | 303 | 307 | 308, t.text));
  } else if (t.text !== null) {
    ex.respond(bytesResponse(t.code, 'text/plain; charset=utf-8', Buffer.from(t.text)));
  } else if (t.code >= 400) {
    ex.respond(errorResponse(ex.server, t.code));
  } else {
    ex.respond({ status: t.code, headers: '', body: NO_BODY, length: 0 });
  }
  return null;
};

/** The outcome of try_files: a candidate found (the URI to serve in this location), or the fallback. */
type TryOutcome =
  | { readonly kind: 'found'; readonly uri: string }
  | { readonly kind: 'redirect'; readonly target: string }
  | { readonly kind: 'code'; readonly code: number };

/**
 * True when `method` stores or deletes a file in `loc` (an upload location: `methods` lists it, no `cgi`). Such a
 * request skips try_files, as indexFor skips the index: it is for the path the client named, never for a candidate
 * (`$uri.html`) or the fallback (`/index.html`), and a POST of a new file must not find the fallback instead.
 */
function writesFile(loc: LocationConfig, method: string): boolean {
  return (method === 'POST' || method === 'DELETE') && loc.cgi.size === 0 && loc.methods?.has(method) === true;
}

/** `try_files`: the first candidate that exists (a file; a directory for one ending in "/"), else the fallback. */
function tryFiles(loc: LocationConfig, varsOf: () => VarContext): TryOutcome | null {
  const tf = loc.tryFiles;
  if (tf === null) return null;
  const vars = varsOf(); // built only here: most locations have no try_files, and this runs per request
  const root = loc.root;
  for (const c of tf.candidates) {
    const uri = expand(c, vars);
    if (root === null || !uri.startsWith('/')) continue;
    const clean = cleanPath(uri);
    if (clean === null) continue;
    // As nginx: a candidate written with a trailing "/" tests a directory, whatever it expands to; once found, the
    // URI is the candidate less that one "/" (so "$uri/" for "/dir" is "/dir", which gets the slash redirect).
    const wantDir = c.source.endsWith('/');
    // ENOTDIR, EACCES: it does not exist for try_files (nginx tests with open/stat alike).
    const file = fileFor(loc, root, clean, vars.captures);
    const st = file === null ? undefined : statFile(file, root);
    if (st !== undefined && (wantDir ? st.isDirectory() : st.isFile())) {
      const served = wantDir ? cleanPath(uri.slice(0, -1) || '/') : clean;
      if (served !== null) return { kind: 'found', uri: served };
    }
  }
  if (tf.fallback.kind === 'code') return { kind: 'code', code: tf.fallback.code };
  return { kind: 'redirect', target: expand(tf.fallback.uri, vars) };
}

/**
 * Routes one request, in nginx's phases: the server's rewrites, the location search, the location's rewrites
 * (`last` and a changed URI search again), then try_files (whose fallback URI is an internal redirect that
 * starts over). More than 10 searches is a loop: 500. `conn` gives the variables their connection facts.
 */
export function plan(head: RequestHead, server: ServerConfig, conn: ConnInfo = NO_CONN): Plan {
  if (head.rawPath === '*') {
    // `OPTIONS *`: the server's own capabilities (RFC 9110 §9.3.7).
    const known = [...recognizedMethods(server)].filter((m) => m !== 'TRACE');
    return { location: null, path: '', head, run: options(allowValue(new Set(known))) };
  }
  const normal = normalizePath(head.rawPath);
  if (!normal.ok) return { location: null, path: '', head, run: badRequest };
  const state: RouteState = { uri: normal.value, args: head.query, captures: [] };
  let loc: LocationConfig | null = null;
  const vars = (): VarContext => varContext(head, server, conn, loc, state);
  const early = (run: (ex: Exchange) => BodyReceiver | null): Plan => ({
    location: loc,
    path: state.uri,
    head: headFor(head, state, normal.value),
    run,
  });
  let serverPhase = true;
  // Set once a try_files fallback redirected the request: its target is not the one the client named.
  let fallback = false;
  for (let cycle = 0; ; cycle++) {
    if (cycle >= MAX_CYCLES) return early(loopError(head));
    if (serverPhase) {
      loc = null;
      const o = runPhase(server.ops, state, vars);
      if (o.kind === 'answer') return early(bound(answerReturn, o));
      serverPhase = false;
    }
    const found = findLocation(server, state.uri);
    if (found === null) {
      loc = null;
      return early(notFound);
    }
    loc = found.location;
    state.captures = found.captures;
    const o = runPhase(loc.ops, state, vars);
    if (o.kind === 'answer') return early(bound(answerReturn, o));
    if (o.kind === 'last' || (o.kind === 'continue' && o.changed)) {
      const clean = cleanPath(state.uri);
      if (clean === null) return early(badRequest);
      state.uri = clean;
      continue;
    }
    if (o.kind === 'break') {
      const clean = cleanPath(state.uri);
      if (clean === null) return early(badRequest);
      state.uri = clean;
    }
    const t = o.kind === 'break' || writesFile(loc, head.method) ? null : tryFiles(loc, vars);
    if (t === null || t.kind === 'found') {
      if (t !== null) state.uri = t.uri;
      const index = indexFor(loc, state.uri, head.method, state.captures);
      if (index === null) {
        return finish(headFor(head, state, normal.value), server, loc, state.uri, {
          fallback,
          captures: state.captures,
        });
      }
      // nginx's index module: an internal redirect, method and body kept, that starts over at the server's rewrites.
      state.uri = index;
      serverPhase = true;
      continue;
    }
    if (t.kind === 'code') return early(answer(t.code));
    const q = t.target.indexOf('?');
    const clean = cleanPath(q < 0 ? t.target : t.target.slice(0, q));
    if (clean === null) return early(badRequest);
    state.uri = clean;
    if (q >= 0) state.args = t.target.slice(q + 1);
    fallback = true;
    serverPhase = true; // an internal redirect runs the server's rewrites again, as in nginx
  }
}

/** The script a FastCGI request names: nginx's $fastcgi_script_name mapped under the root as a file would be; null
 *  when it would leave the root. Without a root (SCRIPT_FILENAME is a fastcgi_param) the file is "". */
function fastcgiTarget(
  loc: LocationConfig,
  cfg: FastcgiConfig,
  uri: string,
  captures: readonly (string | undefined)[],
): FastcgiTarget | null {
  const { scriptName, pathInfo } = scriptNameOf(cfg, uri);
  const root = loc.root ?? '';
  const file = root === '' ? '' : fileFor(loc, root, scriptName, captures);
  if (file === null) return null;
  return { cfg, file, scriptName, pathInfo, root, uri, captures };
}

/**
 * `index` (nginx's index module): for a path ending in "/", the URI of the first name that is a regular file in
 * that directory, or a last name starting with "/" as it is (nginx redirects to it without looking); null when
 * none applies, and the directory gets its listing or 403. POST and DELETE to a directory URL mean an upload into
 * it or 405, so they are redirected only in a CGI location, where the index may be a script (nginx redirects every
 * method).
 */
export function indexFor(
  loc: LocationConfig,
  uri: string,
  method: string,
  captures: readonly (string | undefined)[] = [],
): string | null {
  if (loc.index.length === 0 || !uri.endsWith('/')) return null;
  const root = loc.root;
  if (root === null || loc.redirect !== null || loc.proxy !== null || loc.fastcgi !== null || loc.status) return null;
  if (!loc.dotfiles && hiddenPath(loc, uri)) return null;
  if ((method === 'POST' || method === 'DELETE') && loc.cgi.size === 0) return null;
  const dir = fileFor(loc, root, uri, captures);
  if (dir === null) return null;
  const base = dir.endsWith('/') ? dir : dir + '/';
  let dirChecked = false;
  for (const name of loc.index) {
    if (name.startsWith('/')) return cleanPath(name);
    if (statFile(base + name, root)?.isFile() === true) return uri + name;
    // As nginx: after a miss, a directory that is not there is 404 (from the static handler), not the fallback.
    if (!dirChecked && statFile(dir, root)?.isDirectory() !== true) return null;
    dirChecked = true;
  }
  return null;
}

/** The stat-cache entry of `file` under `root`; undefined when missing, or for ENOTDIR, EACCES and the like. */
function statFile(file: string, root: string): fs.Stats | undefined {
  try {
    return statCached(file, root);
  } catch {
    return undefined; // not usable here: the static handler answers for the path with the precise status
  }
}

/** The head the handler sees for the state: same request, the current path and query. */
function headFor(head: RequestHead, state: RouteState, original: string): RequestHead {
  // Untouched by rewrite and try_files: the client's own bytes (a proxy passes them on as sent, escapes included).
  if (state.uri === original && state.args === head.query) return head;
  const rawPath = encodePath(state.uri);
  if (rawPath === head.rawPath && state.args === head.query) return head;
  return { ...head, rawPath, query: state.args };
}

/** 500 for a rewrite or internal redirect cycle, logged as nginx does. */
function loopError(head: RequestHead): (ex: Exchange) => BodyReceiver | null {
  return (ex) => {
    ex.logError(`rewrite or internal redirection cycle while processing "${head.rawPath}"`);
    ex.respond(errorResponse(ex.server, 500));
    return null;
  };
}

/** The handler for a request in its location: methods, redirects, CGI, then the file handlers. */
function finish(
  head: RequestHead,
  server: ServerConfig,
  loc: LocationConfig,
  path: string,
  how: { readonly fallback: boolean; readonly captures: readonly (string | undefined)[] },
): Plan {
  const method = head.method;
  const route = (run: (ex: Exchange) => BodyReceiver | null): Plan => ({ location: loc, path, head, run });
  if (!loc.dotfiles && hiddenPath(loc, path)) return route(notFound);
  if (loc.proxy !== null) {
    // Every method goes upstream (OPTIONS and tokens no location lists too), unless `methods` limits them.
    const written = allowedMethods(loc, true);
    // TRACE would echo credentials back (RFC 9110 §9.3.8): refused here as everywhere.
    if (method === 'TRACE' || (loc.methods !== null && method !== 'OPTIONS' && !allows(written, method))) {
      return route(answer(405, headerLine('Allow', allowValue(written))));
    }
    return route(bound(serveProxy, loc.proxy));
  }
  if (loc.fastcgi !== null) {
    // As for the proxy: the application answers every method but TRACE, unless `methods` limits them.
    const written = allowedMethods(loc, true);
    if (method === 'TRACE' || (loc.methods !== null && method !== 'OPTIONS' && !allows(written, method))) {
      return route(answer(405, headerLine('Allow', allowValue(written))));
    }
    const target = fastcgiTarget(loc, loc.fastcgi, path, how.captures);
    return route(target === null ? notFound : bound(serveFastcgi, target));
  }
  // A method no location of this server knows is not implemented (RFC 9110 §15.6.2), wherever it is sent.
  if (!recognizedMethods(server).has(method)) return route(answer(501));
  if (loc.redirect !== null) {
    // A redirect answers every method unless `methods` limits it (NGINX's `return` does the same).
    const written = allowedMethods(loc, true);
    if (loc.methods !== null && method !== 'OPTIONS' && !allows(written, method)) {
      return route(answer(405, headerLine('Allow', allowValue(written))));
    }
    return route(bound(answerRedirect, loc.redirect));
  }
  const root = loc.root;
  const script = root !== null && loc.cgi.size > 0 ? findScript(loc, root, path) : null;
  // A try_files fallback (`/index.html` of a single-page app) is not the file the client named: an upload or a
  // DELETE sent to a missing path must not land on it. Scripts (a front controller) still get every method.
  const every = allowedMethods(loc, script !== null);
  const allowed = how.fallback && script === null ? new Set([...every].filter((m) => READ_ONLY.has(m))) : every;
  // OPTIONS is answered here, unless `methods` hands it to the scripts (a CORS preflight, say).
  if (method === 'OPTIONS' && !(script !== null && allows(allowed, method))) {
    return route(options(allowValue(allowed)));
  }
  if (!allows(allowed, method)) return route(answer(405, headerLine('Allow', allowValue(allowed))));
  if (loc.status) return route(bound(serveStatus, null));
  if (loc.metrics) return route(bound(serveMetrics, null));
  if (root === null) return route(notFound);
  if (script !== null) return route(bound(serveCgi, script));
  const file = fileFor(loc, root, path, how.captures);
  if (file === null) return route(notFound);
  const target = { root, file };
  // allowedMethods left a file target only FILE_METHODS.
  if (method === 'POST') return route(bound(serveUpload, target));
  if (method === 'DELETE') return route(bound(serveDelete, target));
  return route(bound(serveStatic, target));
}
