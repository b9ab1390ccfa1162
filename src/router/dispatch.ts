/**
 * The router: from a request head and its server block to a location and a handler (DESIGN §3, §5, §6).
 * Decides everything that does not need the filesystem; handlers do the rest.
 */
import type { LocationConfig, Method, ServerConfig } from '../config/types.js';
import type { RequestHead } from '../http/request.js';
import { headerLine } from '../http/response.js';
import { findScript, serveCgi } from '../handlers/cgi.js';
import { serveDelete } from '../handlers/delete.js';
import { errorResponse } from '../handlers/error-page.js';
import type { Exchange, Handler } from '../handlers/exchange.js';
import { redirectResponse } from '../handlers/redirect.js';
import { serveStatic } from '../handlers/static.js';
import { serveStatus } from '../handlers/status.js';
import { serveUpload } from '../handlers/upload.js';
import { fileFor, matchLocation } from './location.js';
import { isPathError, normalizePath } from './path.js';

/** What the router decided for a request. */
export interface Plan {
  readonly location: LocationConfig | null;
  /** The normalised path ("" when the target could not be decoded). */
  readonly path: string;
  readonly handler: Handler;
  /** True when the handler consumes the request body (uploads, CGI); otherwise the body is discarded first. */
  readonly wantsBody: boolean;
}

const ALL_METHODS: readonly Method[] = ['GET', 'HEAD', 'POST', 'DELETE'];

/** A handler that answers with a fixed error status. */
function fail(status: number, headers = ''): Handler {
  return (ex) => {
    ex.respond(errorResponse(ex.server, status, headers));
    return null;
  };
}

const badRequest = fail(400);
const notFound = fail(404);

/** Whether `loc` allows `method`; GET allows HEAD, as NGINX's limit_except does. */
export function methodAllowed(loc: LocationConfig, method: string): boolean {
  const m = loc.methods;
  if (m === null) return true;
  if (m.has(method as Method)) return true;
  return method === 'HEAD' && m.has('GET');
}

/** The `Allow` header value for `loc` (RFC 9110 §10.2.1). */
export function allowValue(loc: LocationConfig): string {
  const m = loc.methods;
  const list = m === null ? ALL_METHODS : ALL_METHODS.filter((x) => m.has(x) || (x === 'HEAD' && m.has('GET')));
  return list.join(', ');
}

/** Routes one request. */
export function plan(head: RequestHead, server: ServerConfig): Plan {
  const path = normalizePath(head.rawPath);
  if (isPathError(path)) return { location: null, path: '', handler: badRequest, wantsBody: false };
  const loc = matchLocation(server, path);
  if (loc === null) return { location: null, path, handler: notFound, wantsBody: false };
  const method = head.method;
  if (!methodAllowed(loc, method)) {
    return { location: loc, path, handler: fail(405, headerLine('Allow', allowValue(loc))), wantsBody: false };
  }
  if (loc.redirect !== null) {
    const to = loc.redirect;
    return {
      location: loc,
      path,
      handler: (ex) => {
        ex.respond(redirectResponse(301, to));
        return null;
      },
      wantsBody: false,
    };
  }
  if (loc.status) return { location: loc, path, handler: serveStatus, wantsBody: false };
  const root = loc.root;
  if (root === null) return { location: loc, path, handler: notFound, wantsBody: false };
  const fsPath = fileFor(loc, root, path);
  if (loc.cgi.size > 0) {
    const script = findScript(loc, root, path);
    if (script !== null) {
      return { location: loc, path, handler: (ex: Exchange) => serveCgi(ex, script), wantsBody: true };
    }
  }
  switch (method) {
    case 'GET':
    case 'HEAD':
      return {
        location: loc,
        path,
        handler: (ex) => {
          serveStatic(ex, root, fsPath);
          return null;
        },
        wantsBody: false,
      };
    case 'POST':
      return { location: loc, path, handler: (ex) => serveUpload(ex, root, fsPath), wantsBody: true };
    case 'DELETE':
      return {
        location: loc,
        path,
        handler: (ex) => {
          serveDelete(ex, root, fsPath);
          return null;
        },
        wantsBody: false,
      };
    default:
      return { location: loc, path, handler: fail(501), wantsBody: false };
  }
}
