/**
 * DELETE of a file under a location's root (DESIGN §6): 204, 404 when missing, 403 for a directory.
 */
import * as fs from 'node:fs';
import { NO_BODY } from '../http/response.js';
import { errorResponse } from './error-page.js';
import type { Exchange } from './exchange.js';
import { statusForFsError } from './static.js';

/** Deletes `fsPath`; the path is already confined to `root` lexically, and symlinks are not followed. */
export function serveDelete(ex: Exchange, root: string, fsPath: string): void {
  if (fsPath === root) {
    ex.respond(errorResponse(ex.server, 403));
    return;
  }
  let st: fs.Stats;
  try {
    // lstat: deleting a symlink removes the link itself, never what it points to.
    st = fs.lstatSync(fsPath);
  } catch (err) {
    ex.respond(errorResponse(ex.server, statusForFsError(err)));
    return;
  }
  if (st.isDirectory()) {
    ex.respond(errorResponse(ex.server, 403));
    return;
  }
  try {
    fs.unlinkSync(fsPath);
  } catch (err) {
    ex.respond(errorResponse(ex.server, statusForFsError(err)));
    return;
  }
  ex.respond({ status: 204, headers: '', body: NO_BODY, length: 0 });
}
