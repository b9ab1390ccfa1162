/**
 * DELETE of a file under a location's root (DESIGN §6): 204, 404 when missing, 403 for a directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NO_BODY } from '../http/response.js';
import { errorResponse } from './error-page.js';
import type { Exchange } from './exchange.js';
import { fsErrorResponse, insideRoot } from './confine.js';
import { forget } from './stat-cache.js';

/** Deletes `fsPath`, confined to `root` lexically and by real path; a final symlink is removed, not followed. */
export function serveDelete(ex: Exchange, root: string, fsPath: string): void {
  if (fsPath === root) {
    ex.respond(errorResponse(ex.server, 403));
    return;
  }
  // Lexical confinement is not enough: a directory on the way may be a symlink leading out of the root.
  if (!insideRoot(root, path.dirname(fsPath))) {
    ex.respond(errorResponse(ex.server, 404));
    return;
  }
  let st: fs.Stats;
  try {
    // lstat: deleting a symlink removes the link itself, never what it points to.
    st = fs.lstatSync(fsPath);
  } catch (err) {
    ex.respond(fsErrorResponse(ex, 'lstat', fsPath, err));
    return;
  }
  if (st.isDirectory()) {
    ex.respond(errorResponse(ex.server, 403));
    return;
  }
  try {
    fs.unlinkSync(fsPath);
    forget(fsPath);
  } catch (err) {
    ex.respond(fsErrorResponse(ex, 'unlink', fsPath, err));
    return;
  }
  ex.respond({ status: 204, headers: '', body: NO_BODY, length: 0 });
}
