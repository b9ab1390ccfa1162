/**
 * DELETE of a file under a location's root (docs/ARCHITECTURE.md "Handlers"): 204, 404 when missing, 403 for a directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NO_BODY } from '../http/response.js';
import { errorResponse } from './error-page.js';
import type { Exchange, FileTarget } from './exchange.js';
import { fsErrorResponse, refuseUnconfined } from './confine.js';
import { forget } from './stat-cache.js';

/** Deletes `fsPath`, confined to `root` lexically and by real path; a final symlink is removed, not followed. */
export function serveDelete(ex: Exchange, target: FileTarget): null {
  const { root, file: fsPath } = target;
  if (fsPath === root) {
    ex.respond(errorResponse(ex.server, 403));
    return null;
  }
  // Lexical confinement is not enough: a directory on the way may be a symlink leading out of the root.
  const refused = refuseUnconfined(ex, root, path.dirname(fsPath));
  if (refused !== null) {
    ex.respond(refused);
    return null;
  }
  let st: fs.Stats;
  try {
    // lstat: deleting a symlink removes the link itself, never what it points to.
    st = fs.lstatSync(fsPath);
  } catch (err) {
    ex.respond(fsErrorResponse(ex, 'lstat', fsPath, err));
    return null;
  }
  if (st.isDirectory()) {
    ex.respond(errorResponse(ex.server, 403));
    return null;
  }
  try {
    fs.unlinkSync(fsPath);
    forget(fsPath);
  } catch (err) {
    ex.respond(fsErrorResponse(ex, 'unlink', fsPath, err));
    return null;
  }
  ex.respond({ status: 204, headers: '', body: NO_BODY, length: 0 });
  return null;
}
