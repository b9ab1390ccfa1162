/**
 * Keeping handlers inside a location's root (docs/ARCHITECTURE.md "Security rules"), and what a filesystem error means for the client.
 * URL paths are already free of dot segments (router/path.ts); what remains are symlinks, checked here.
 */
import * as fs from 'node:fs';
import type { SymlinkPolicy } from '../config/types.js';
import type { Response } from '../http/response.js';
import { errnoCode } from '../lib/errno.js';
import { errorResponse } from './error-page.js';
import type { Exchange } from './exchange.js';

const realRoots = new Map<string, string>();

/** Where a path really lies relative to a root, symlinks followed. */
export type Confinement = 'inside' | 'outside' | 'missing';

function realRoot(root: string): string {
  let real = realRoots.get(root);
  if (real === undefined) {
    real = fs.realpathSync.native(root);
    realRoots.set(root, real);
  }
  return real;
}

/**
 * Where `path` (lexically under `root`) lies once symlinks are followed: inside the real root, outside it, or
 * missing (it, or the root, does not exist). With `policy` "none" (disable_symlinks on), any link below the root
 * counts as outside; with "follow" (disable_symlinks off) nothing is checked.
 */
export function confinement(root: string, path: string, policy: SymlinkPolicy = 'inside-root'): Confinement {
  if (policy === 'follow') return 'inside';
  let rr: string;
  let real: string;
  try {
    rr = realRoot(root);
    real = fs.realpathSync.native(path);
  } catch {
    return 'missing';
  }
  if (policy === 'none') return real === rr + path.slice(root.length) ? 'inside' : 'outside';
  return real === rr || real.startsWith(rr.endsWith('/') ? rr : rr + '/') ? 'inside' : 'outside';
}

/** True when the real path of `path` (symlinks followed) is the real root or lies inside it. */
export function insideRoot(root: string, path: string): boolean {
  return confinement(root, path) === 'inside';
}

/**
 * The answer when `path` may not be used under the location's symlink policy: 403 for a path that leads out of
 * the root through a link (logged once, with the path, as NGINX logs a refused symlink), 404 when it does not
 * exist; null when it may be used.
 */
export function refuseUnconfined(ex: Exchange, root: string, path: string): Response | null {
  const policy = ex.location?.symlinks ?? 'inside-root';
  const where = confinement(root, path, policy);
  if (where === 'inside') return null;
  if (where === 'missing') return errorResponse(ex.server, 404);
  const why =
    policy === 'none'
      ? 'has a symbolic link in it (disable_symlinks on)'
      : 'leads out of its root through a symbolic link';
  ex.logError(`"${path}" ${why}: 403 for ${ex.head.method} ${ex.head.target}`);
  return errorResponse(ex.server, 403);
}

/** Maps an fs error to the status NGINX gives for it. */
export function statusForFsError(err: unknown): 403 | 404 | 500 {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG' || code === 'ELOOP') return 404;
  if (code === 'EACCES' || code === 'EPERM') return 403;
  return 500;
}

/**
 * The answer to a request whose file operation `op` on `path` failed: 404, 403 or 500 as NGINX gives them. Every
 * failure but a plain "not found" is logged with its errno (NGINX logs `open() "..." failed (24: Too many open
 * files)`), so a 500 from a full descriptor table or disk is never silent.
 */
export function fsErrorResponse(ex: Exchange, op: string, path: string, err: unknown): Response {
  const status = statusForFsError(err);
  const code = errnoCode(err);
  if (status !== 404 || (code !== 'ENOENT' && code !== 'ENOTDIR')) {
    ex.logError(`${op}() "${path}" failed (${code || String(err)}) for ${ex.head.method} ${ex.head.target}`);
  }
  return errorResponse(ex.server, status);
}
