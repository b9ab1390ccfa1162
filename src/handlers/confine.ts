/**
 * Keeping handlers inside a location's root (DESIGN §6), and what a filesystem error means for the client.
 * URL paths are already free of dot segments (router/path.ts); what remains are symlinks, checked here.
 */
import * as fs from 'node:fs';

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
