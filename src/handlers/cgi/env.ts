/**
 * The environment of a CGI script (RFC 3875 §4.1), built from plain values: a pure function, so that every
 * variable can be tested without a server.
 */
import type { RequestHead } from '../../http/request.js';
import type { Exchange } from '../exchange.js';
import { SERVER_NAME } from '../../http/response.js';
import type { CgiScript } from './script.js';

/** What the environment is made of, besides the script. */
export interface CgiRequest {
  readonly head: RequestHead;
  /** SERVER_NAME: the Host, else the server's first server_name, else the local address. */
  readonly serverName: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The request came over TLS: HTTPS=on, REQUEST_SCHEME=https (as nginx's fastcgi_params set them). */
  readonly https: boolean;
  /** SESSION_ID and SESSION_DATA, when the location has sessions. */
  readonly session: { readonly id: string; readonly data: string } | null;
  /** PATH for the script. */
  readonly searchPath: string;
  /** The user auth_basic let in (AUTH_TYPE=Basic and REMOTE_USER, RFC 3875 §4.1.1, §4.1.11); null when none. */
  readonly remoteUser?: string | null;
}

/** PATH for scripts when the server has none. */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/** The facts of an exchange a script's environment is made of. */
export function cgiRequest(ex: Exchange): CgiRequest {
  const h = ex.head;
  const session = ex.session();
  return {
    head: h,
    serverName: h.host !== '' ? h.host : (ex.server.serverNames[0] ?? ex.localAddress),
    localPort: ex.localPort,
    remoteAddress: ex.remoteAddress,
    remotePort: ex.remotePort,
    https: ex.secure,
    session: session === null ? null : { id: session.id, data: session.data },
    searchPath: process.env['PATH'] ?? DEFAULT_PATH,
    remoteUser: ex.remoteUser,
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Header values arrive as latin1 (one char per byte) but Node encodes environment strings as UTF-8: re-decoding
 * valid UTF-8 makes the script see the bytes the client sent; other non-ASCII bytes are passed as latin1 chars.
 */
function envText(s: string): string {
  if (!/[^\x00-\x7f]/.test(s)) return s;
  try {
    return strictUtf8.decode(Buffer.from(s, 'latin1'));
  } catch {
    return s;
  }
}

/** Header fields that never become HTTP_* variables: those with their own variable, the de-chunked framing, and
 *  `Proxy`, which would set HTTP_PROXY, a proxy setting for the script's own requests (httpoxy, CVE-2016-5385). */
const NOT_PASSED = new Set(['content-type', 'content-length', 'transfer-encoding', 'proxy']);

/**
 * The whole environment of a script: the RFC 3875 meta-variables, SCRIPT_FILENAME, REQUEST_URI, DOCUMENT_ROOT and
 * REDIRECT_STATUS=200 (php-cgi refuses to run without it), PATH, and SESSION_ID/SESSION_DATA when the location has
 * sessions. `contentLength` is the body's length, null when the request has no body. Nothing of the server's own
 * environment leaks in.
 */
export function cgiEnvironment(
  req: CgiRequest,
  script: CgiScript,
  contentLength: number | null,
): Record<string, string> {
  const h = req.head;
  const env: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: SERVER_NAME,
    SERVER_NAME: req.serverName,
    SERVER_PORT: String(req.localPort),
    SERVER_PROTOCOL: `HTTP/1.${h.minor}`,
    REQUEST_METHOD: h.method,
    REQUEST_SCHEME: req.https ? 'https' : 'http',
    SCRIPT_NAME: script.scriptName,
    QUERY_STRING: envText(h.query),
    REMOTE_ADDR: req.remoteAddress,
    REMOTE_PORT: req.remotePort > 0 ? String(req.remotePort) : '', // a realip header without a port (nginx)
    SCRIPT_FILENAME: script.file,
    REQUEST_URI: envText(h.target.startsWith('/') ? h.target : h.rawPath + (h.query !== '' ? '?' + h.query : '')),
    DOCUMENT_ROOT: script.root,
    REDIRECT_STATUS: '200',
    PATH: req.searchPath,
  };
  if (req.https) env['HTTPS'] = 'on';
  // §4.1.5, §4.1.6: both unset when there is no path info.
  if (script.pathInfo !== '') {
    env['PATH_INFO'] = script.pathInfo;
    env['PATH_TRANSLATED'] = script.root + script.pathInfo;
  }
  const type = h.headers.get('content-type');
  if (type !== undefined) env['CONTENT_TYPE'] = envText(type);
  if (contentLength !== null) env['CONTENT_LENGTH'] = String(contentLength);
  // §4.1.18. Names holding anything but letters, digits and "-" are skipped: "X_A" and "X-A" would both become
  // HTTP_X_A, which lets a client spoof a header a front proxy sets (NGINX ignores such names too).
  for (const [name, value] of h.headers) {
    if (NOT_PASSED.has(name) || !/^[a-z0-9-]+$/.test(name)) continue;
    env['HTTP_' + name.toUpperCase().replace(/-/g, '_')] = envText(value);
  }
  if (req.remoteUser !== undefined && req.remoteUser !== null) {
    env['AUTH_TYPE'] = 'Basic';
    env['REMOTE_USER'] = req.remoteUser;
  }
  if (req.session !== null) {
    env['SESSION_ID'] = req.session.id;
    env['SESSION_DATA'] = req.session.data;
  }
  return env;
}
