/**
 * Which script a request names (RFC 3875 §4.1.5): the first path segment, after the location prefix, whose
 * extension has a `cgi` interpreter; what follows it is PATH_INFO.
 */
import * as fs from 'node:fs';
import type { LocationConfig } from '../../config/types.js';

/** A script to run for a request, found by `findScript`. */
export interface CgiScript {
  /** Absolute path of the script (it may not exist: serveCgi answers 404 then). */
  readonly file: string;
  /** URL path of the script (SCRIPT_NAME). */
  readonly scriptName: string;
  /** The rest of the URL path after the script ("" or starting with "/"). */
  readonly pathInfo: string;
  /** Absolute path of the interpreter configured for the extension. */
  readonly interpreter: string;
  /** The location's root (DOCUMENT_ROOT, base of PATH_TRANSLATED). */
  readonly root: string;
}

/** The interpreter for a file name by its extension (case-insensitive), or null. */
function interpreterFor(loc: LocationConfig, name: string): string | null {
  const lower = name.toLowerCase();
  for (const [ext, interpreter] of loc.cgi) {
    if (lower.length > ext.length && lower.endsWith(ext)) return interpreter;
  }
  return null;
}

function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null; // ENOTDIR, EACCES...: not a script we can use; serveCgi reports the precise status
  }
}

/**
 * The script a request path names, walking its segments after the location prefix: the first segment with a
 * configured extension that is not a directory is the script, the rest of the path is PATH_INFO. Such a segment
 * that names no file still yields a script, so that serveCgi answers 404. A directory URL ("/") whose `index`
 * names a script was redirected to it by the router (router/dispatch.ts `indexFor`). Null: not a CGI request.
 */
export function findScript(loc: LocationConfig, root: string, urlPath: string): CgiScript | null {
  const prefix = loc.mapPrefix === '/' ? '' : loc.mapPrefix;
  const segs = urlPath.slice(prefix.length).split('/');
  const base = root.endsWith('/') && root.length > 1 ? root.slice(0, -1) : root;
  let url = prefix;
  let file = base;
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i] ?? '';
    url += '/' + seg;
    file += '/' + seg;
    if (seg === '') continue;
    const interpreter = interpreterFor(loc, seg);
    if (interpreter === null) continue;
    if (statOrNull(file)?.isDirectory() === true) continue;
    const pathInfo = i + 1 < segs.length ? '/' + segs.slice(i + 1).join('/') : '';
    return { file, scriptName: url, pathInfo, interpreter, root };
  }
  return null;
}
