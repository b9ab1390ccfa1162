/**
 * Keeping handlers inside a location's root (DESIGN §6), and what a filesystem error means for the client.
 * URL paths are already free of dot segments (router/path.ts); what remains are symlinks, checked here.
 */
import * as fs from 'node:fs';
import type { Response } from '../http/response.js';
import { errorResponse } from './error-page.js';
import type { Exchange } from './exchange.js';

const realRoots = new Map<string, string>();

/** True when the real path of `path` (symlinks followed) is the real root or lies inside it. */
export function insideRoot(root: string, path: string): boolean {
  try {
    let realRoot = realRoots.get(root);
    if (realRoot === undefined) {
      realRoot = fs.realpathSync.native(root);
      realRoots.set(root, realRoot);
    }
    const real = fs.realpathSync.native(path);
    return real === realRoot || real.startsWith(realRoot.endsWith('/') ? realRoot : realRoot + '/');
  } catch {
    return false;
  }
}

/** Maps an fs error to the status NGINX gives for it. */
export function statusForFsError(err: unknown): 403 | 404 | 500 {
  const code = (err as NodeJS.ErrnoException | null)?.code;
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
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (status !== 404 || (code !== 'ENOENT' && code !== 'ENOTDIR')) {
    ex.logError(`${op}() "${path}" failed (${code ?? String(err)}) for ${ex.head.method} ${ex.head.target}`);
  }
  return errorResponse(ex.server, status);
}
