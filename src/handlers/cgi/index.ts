/**
 * The CGI/1.1 gateway (RFC 3875; docs/ARCHITECTURE.md "CGI"): a request whose path names a file with a configured
 * extension runs `INTERPRETER SCRIPT` in the script's directory, in its own process group, with the CGI variables
 * as its whole environment; the body streams to stdin and stdout to the client, each paced by the other side.
 */
import * as fs from 'node:fs';
import { fsErrorResponse, refuseUnconfined } from '../confine.js';
import { errorResponse } from '../error-page.js';
import type { BodyReceiver, Exchange } from '../exchange.js';
import { CgiRun } from './run.js';
import type { CgiScript } from './script.js';

export { findScript, type CgiScript } from './script.js';

/**
 * Handles a request for `script` (from findScript): 404/403 when it is missing or unreadable or lies outside the
 * root through a symlink; otherwise runs it. Returns the receiver of the request body, or null when there is none.
 */
export function serveCgi(ex: Exchange, script: CgiScript): BodyReceiver | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(script.file);
    if (st.isFile()) fs.accessSync(script.file, fs.constants.R_OK);
  } catch (err) {
    ex.respond(fsErrorResponse(ex, 'stat', script.file, err));
    return null;
  }
  if (!st.isFile()) {
    ex.respond(errorResponse(ex.server, 403));
    return null;
  }
  const refused = refuseUnconfined(ex, script.root, script.file);
  if (refused !== null) {
    ex.respond(refused);
    return null;
  }
  return new CgiRun(ex, script).begin();
}
