/**
 * Static files (docs/ARCHITECTURE.md "Handlers", RFC 9110 §13-§14): resolve, validate, then answer in a few named steps, as Go's
 * net/http/fs.go does: stat → directory handling → open → preconditions → ranges → response.
 * Small files are kept in memory, revalidated against the inotify-validated stat cache (stat-cache.ts).
 */
import * as fs from 'node:fs';
import { chooseCoding, type Coding } from '../http/accept-encoding.js';
import { evaluatePreconditions, ifRangeAllows } from '../http/conditional.js';
import { etagFor } from '../http/etag.js';
import { formatHttpDate } from '../http/http-date.js';
import { contentTypeFor, DEFAULT_MIME, type MimeTable } from '../http/mime.js';
import { byteRangesLayout, contentRange, newBoundary, parseRange, unsatisfiedRange } from '../http/range.js';
import { headerLine, NO_BODY, type FilePart } from '../http/response.js';
import { encodePath } from '../router/path.js';
import { fsErrorResponse, refuseUnconfined } from './confine.js';
import { listDirectory } from './directory.js';
import { statCached } from './stat-cache.js';
import { errorResponse } from './error-page.js';
import { isTemporaryUpload } from './upload-store.js';
import type { Exchange, FileTarget } from './exchange.js';
import { redirectResponse } from './redirect.js';
import { encodeWhole, levelFor, NO_CODINGS } from './compression.js';
import { representationsOf } from './representations.js';
import { EncodedCache } from './encoded-cache.js';

/** Files up to this size are cached in memory (one bounded read each). */
const CACHE_FILE_MAX = 64 * 1024;
/** Total bytes the cache may hold; the oldest entries go first beyond it. */
const CACHE_TOTAL_MAX = 64 * 1024 * 1024;
/**
 * Largest file compressed on the fly (README "Compression"): it is encoded whole, once, in one synchronous call,
 * so its size bounds how long that call holds the loop. Larger files go out as they are, or as a `.br` / `.gz`
 * sibling.
 */
export const STATIC_ENCODE_MAX = 256 * 1024;
/** `Vary` for a response whose body could have been encoded, identity included (nginx's `gzip_vary on`). */
const VARY = 'Vary: Accept-Encoding\r\n';

/** What we know of a file at one (ino, size, mtime): its validators and, when small, its bytes. */
interface FileMeta {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly etag: string;
  readonly lastModified: string;
  /** Content-Type, Last-Modified, ETag and Accept-Ranges lines, ready to send. */
  readonly headers: string;
  /** The content coding of these bytes ("gzip", "br"): a sibling, or an encoding made here; null for none. */
  readonly encoding: string | null;
  readonly data: Buffer | null;
}

const cache = new Map<string, FileMeta>();
let cacheBytes = 0;
/** Variants encoded here, keyed by the identity file's path and "coding level". */
const encodedCache = new EncodedCache<FileMeta>().followStatCache();

function remember(path: string, meta: FileMeta): void {
  const old = cache.get(path);
  if (old !== undefined) {
    cacheBytes -= old.data?.length ?? 0;
    cache.delete(path);
  }
  cache.set(path, meta);
  cacheBytes += meta.data?.length ?? 0;
  for (const [k, v] of cache) {
    if (cacheBytes <= CACHE_TOTAL_MAX && cache.size <= 10_000) break;
    cache.delete(k);
    cacheBytes -= v.data?.length ?? 0;
  }
}

/** Whether `st` still describes the bytes cached in `m`. ctime is part of it: a rewrite that keeps the size and
 *  puts the mtime back (`cp -p`, `rsync -t`, `touch -r`) cannot restore the ctime. */
function sameFile(m: FileMeta, st: fs.Stats): boolean {
  return m.ino === st.ino && m.size === st.size && m.mtimeMs === st.mtimeMs && m.ctimeMs === st.ctimeMs;
}

/** The location's types (`types`, `default_type`): part of every cache key below, since FileMeta.headers holds the
 *  Content-Type and two locations may serve one file as two types. */
function mimeOf(ex: Exchange): MimeTable {
  return ex.location?.mime ?? DEFAULT_MIME;
}

function metaFor(path: string, st: fs.Stats, data: Buffer | null, encoding: string | null, mime: MimeTable): FileMeta {
  const etag = etagFor(st.size, st.mtimeMs);
  const lastModified = formatHttpDate(st.mtimeMs);
  const type = contentTypeFor(encoding === null ? path : path.slice(0, path.lastIndexOf('.')), mime);
  let headers = `Content-Type: ${type}\r\nLast-Modified: ${lastModified}\r\nETag: ${etag}\r\nAccept-Ranges: bytes\r\n`;
  if (encoding !== null) headers += `Content-Encoding: ${encoding}\r\n`;
  return {
    ino: st.ino,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    etag,
    lastModified,
    headers,
    encoding,
    data,
  };
}

/** Answers GET/HEAD for `target.file` (the URL path mapped under `target.root`). */
export function serveStatic(ex: Exchange, target: FileTarget): null {
  const { root, file: fsPath } = target;
  let st: fs.Stats | undefined;
  try {
    // No exception for a missing file: a 404 is common and must stay cheap; a hot path costs no syscall.
    st = statCached(fsPath, root);
  } catch (err) {
    ex.respond(fsErrorResponse(ex, 'stat', fsPath, err));
    return null;
  }
  // An upload still being written is nobody's business until it is complete (docs/ARCHITECTURE.md "Handlers").
  if (st === undefined || isTemporaryUpload(fsPath.slice(fsPath.lastIndexOf('/') + 1))) {
    ex.respond(errorResponse(ex.server, 404));
    return null;
  }
  if (st.isDirectory()) {
    serveDirectory(ex, root, fsPath);
    return null;
  }
  if (!st.isFile()) {
    ex.respond(errorResponse(ex.server, 403));
    return null;
  }
  serveFile(ex, root, fsPath, st);
  return null;
}

/**
 * Step: a directory URL gets the slash redirect, a listing, or 403. Its `index` file, when one exists, was already
 * chosen by the router (an internal redirect, as nginx's index module does: router/dispatch.ts `indexFor`).
 */
function serveDirectory(ex: Exchange, root: string, dir: string): void {
  if (!ex.path.endsWith('/')) {
    const q = ex.head.query;
    ex.respond(redirectResponse(301, encodePath(ex.path + '/') + (q === '' ? '' : '?' + q)));
    return;
  }
  const loc = ex.location;
  if (loc?.directoryListing === true) {
    const refused = refuseUnconfined(ex, root, dir);
    if (refused !== null) {
      ex.respond(refused);
      return;
    }
    ex.respond(listDirectory(ex, root, dir));
    return;
  }
  ex.respond(errorResponse(ex.server, 403));
}

/**
 * Step: choose the representation (README "Compression"): a `.br` / `.gz` sibling, a variant encoded here, or
 * the file as it is, by the client's Accept-Encoding; then find its metadata and answer. `Vary` goes on every
 * answer that could have been encoded. A request with Range gets no encoding made here: ranges apply to the
 * identity (the rule; a sibling is a file of its own and keeps its ranges, as with nginx's gzip_static).
 */
function serveFile(ex: Exchange, root: string, path: string, st: fs.Stats): void {
  const h = ex.head.headers;
  const comp = ex.location?.compression;
  const mime = mimeOf(ex);
  const { siblings, encodable: possible } = representationsOf(path, root, st, comp, STATIC_ENCODE_MAX, mime);
  const vary = possible.size > 0 || siblings !== null ? VARY : '';
  let offered = ex.head.method === 'GET' && h.has('range') ? NO_CODINGS : possible;
  if (siblings !== null) offered = new Set([...offered, ...siblings.keys()]);
  const choice = offered.size > 0 ? chooseCoding(h.get('accept-encoding'), offered) : 'identity';
  const sibling = choice === 'identity' ? undefined : siblings?.get(choice);
  if (sibling !== undefined) {
    serveRepresentation(ex, root, path + (choice === 'br' ? '.br' : '.gz'), sibling, choice, vary);
  } else if (choice !== 'identity' && comp !== undefined) {
    serveEncoded(ex, root, path, st, choice, levelFor(comp, choice), vary);
  } else {
    serveRepresentation(ex, root, path, st, null, vary);
  }
}

/** A variant encoded here: from the cache, or made now from the file's bytes and kept. */
function serveEncoded(
  ex: Exchange,
  root: string,
  path: string,
  st: fs.Stats,
  coding: Coding,
  level: number,
  vary: string,
): void {
  const mime = mimeOf(ex);
  const variant = `${coding} ${level}${mime.key}${confinedFor(ex, root)}`;
  const hit = encodedCache.get(path, variant, st);
  if (hit !== undefined) {
    if (hit.value !== null) answer(ex, hit.value, -1, vary);
    else serveRepresentation(ex, root, path, st, null, vary);
    return;
  }
  const opened = openRepresentation(ex, root, path, st, null);
  if (opened === null) return;
  const { meta } = opened;
  let data = meta.data;
  if (data === null) {
    // Between the small-file cache's limit and STATIC_ENCODE_MAX: read it whole, in one bounded pass.
    try {
      data = readWhole(opened.fd, meta.size);
    } catch (err) {
      ex.logError(`static: ${path}: ${String(err)}`);
      ex.respond(errorResponse(ex.server, 500));
      return;
    } finally {
      fs.closeSync(opened.fd);
    }
    if (data === null) {
      // It changed size while being read: send what the descriptor would, without encoding.
      serveRepresentation(ex, root, path, st, null, vary);
      return;
    }
  }
  const encoded = encodeWhole(coding, data, level);
  let value: FileMeta | null = null;
  if (encoded.length < data.length) {
    // Its own ETag (RFC 9110 §8.8.3: a different representation), strong, so If-Match and 304s stay exact; no
    // Accept-Ranges, since ranges apply only to the identity (nginx clears it too).
    const etag = meta.etag.slice(0, -1) + '-' + coding + '"';
    const type = contentTypeFor(path, mime);
    value = {
      ...meta,
      size: encoded.length,
      etag,
      headers: `Content-Type: ${type}\r\nLast-Modified: ${meta.lastModified}\r\nETag: ${etag}\r\nContent-Encoding: ${coding}\r\n`,
      encoding: coding,
      data: encoded,
    };
  }
  encodedCache.put(path, variant, {
    ino: meta.ino,
    size: meta.size,
    mtimeMs: meta.mtimeMs,
    ctimeMs: meta.ctimeMs,
    value,
    bytes: value?.size ?? 0,
  });
  answer(ex, value ?? { ...meta, data }, -1, vary);
}

/** The whole of an open file of `size` bytes, or null if it does not hold exactly that many. */
function readWhole(fd: number, size: number): Buffer | null {
  const data = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(fd, data, off, Math.min(size - off, 64 * 1024), off);
    if (n === 0) break;
    off += n;
  }
  return off === size ? data : null;
}

/**
 * The part of a cache key that says under which root and symlink policy the entry passed refuseUnconfined: a file
 * served where `disable_symlinks off` follows a link out of the root must not be served from the cache where the
 * link is refused (another location or server over the same files).
 */
function confinedFor(ex: Exchange, root: string): string {
  return '\0' + (ex.location?.symlinks ?? 'inside-root') + '\0' + root;
}

/** A file as it is on disk (the identity, or a sibling sent with its coding): cached, or opened now. */
function serveRepresentation(
  ex: Exchange,
  root: string,
  servedPath: string,
  st: fs.Stats,
  encoding: string | null,
  vary: string,
): void {
  const opened = openRepresentation(ex, root, servedPath, st, encoding);
  if (opened !== null) answer(ex, opened.meta, opened.fd, vary);
}

/**
 * The metadata of a file on disk, from the small-file cache (fd -1) or from the file opened now (its bytes read
 * when small: then fd is -1 too, else the open descriptor). Null when an error answer was sent.
 */
function openRepresentation(
  ex: Exchange,
  root: string,
  servedPath: string,
  st: fs.Stats,
  encoding: string | null,
): { meta: FileMeta; fd: number } | null {
  // The same .gz file is one representation when asked for by name and another when negotiated: separate entries;
  // one per types table that serves it (its Content-Type is in the entry's headers); and one per root and symlink
  // policy, since a hit skips the confinement check that the entry's own request passed.
  const mime = mimeOf(ex);
  const key = (encoding === null ? servedPath : servedPath + '\0' + encoding) + mime.key + confinedFor(ex, root);
  const hit = cache.get(key);
  if (hit !== undefined && hit.data !== null && sameFile(hit, st)) return { meta: hit, fd: -1 };
  const refused = refuseUnconfined(ex, root, servedPath);
  if (refused !== null) {
    ex.respond(refused);
    return null;
  }
  let fd: number;
  try {
    // O_NONBLOCK: if a FIFO replaced the file since the stat, open(2) must not wait for a writer (that would block
    // the whole server); the fstat below then refuses it. On a regular file the flag changes nothing.
    fd = fs.openSync(servedPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    ex.respond(fsErrorResponse(ex, 'open', servedPath, err));
    return null;
  }
  try {
    // Stat the descriptor we will read: the file may have been replaced since the path was stat'ed.
    const fst = fs.fstatSync(fd);
    if (!fst.isFile()) {
      fs.closeSync(fd);
      ex.respond(errorResponse(ex.server, 403));
      return null;
    }
    let data: Buffer | null = null;
    if (fst.size <= CACHE_FILE_MAX) {
      data = Buffer.allocUnsafe(fst.size);
      let off = 0;
      while (off < data.length) {
        const n = fs.readSync(fd, data, off, data.length - off, off);
        if (n === 0) break;
        off += n;
      }
      if (off !== data.length) data = null; // shrank while reading: serve from the descriptor
    }
    const meta = metaFor(servedPath, fst, data, encoding, mime);
    if (data === null) return { meta, fd };
    fs.closeSync(fd);
    remember(key, meta);
    return { meta, fd: -1 };
  } catch (err) {
    fs.closeSync(fd);
    ex.logError(`static: ${servedPath}: ${String(err)}`);
    ex.respond(errorResponse(ex.server, 500));
    return null;
  }
}

/**
 * Step: preconditions (RFC 9110 §13.2.2), then ranges (§14), then the response. `fd` is an open descriptor
 * (-1 when the bytes are in `meta.data`); it is closed here unless handed to the response body.
 */
function answer(ex: Exchange, meta: FileMeta, fd: number, vary: string): void {
  const h = ex.head.headers;
  const size = meta.size;
  if (
    h.size > 1 &&
    (h.has('if-match') || h.has('if-none-match') || h.has('if-modified-since') || h.has('if-unmodified-since'))
  ) {
    const pre = evaluatePreconditions(ex.head.method, h, { etag: meta.etag, lastModifiedMs: meta.mtimeMs });
    if (pre !== 'proceed') {
      if (fd >= 0) fs.closeSync(fd);
      if (pre === 'not-modified') {
        // RFC 9110 §15.4.5: a 304 carries the ETag and Vary a 200 would have carried.
        ex.respond({
          status: 304,
          headers: `Last-Modified: ${meta.lastModified}\r\nETag: ${meta.etag}\r\n${vary}`,
          body: NO_BODY,
          length: 0,
        });
      } else {
        ex.respond(errorResponse(ex.server, 412));
      }
      return;
    }
  }
  const rangeHeader = h.get('range');
  if (rangeHeader !== undefined && ex.head.method === 'GET') {
    const ifRange = h.get('if-range');
    if (ifRange === undefined || ifRangeAllows(ifRange, { etag: meta.etag, lastModifiedMs: meta.mtimeMs })) {
      const outcome = parseRange(rangeHeader, size);
      if (outcome.kind === 'unsatisfiable') {
        if (fd >= 0) fs.closeSync(fd);
        ex.respond(errorResponse(ex.server, 416, { headers: headerLine('Content-Range', unsatisfiedRange(size)) }));
        return;
      }
      if (outcome.kind === 'partial') {
        answerRanges(ex, meta, fd, outcome.ranges, vary);
        return;
      }
    }
  }
  const headers = vary === '' ? meta.headers : meta.headers + vary;
  if (meta.data !== null) {
    ex.respond({ status: 200, headers, body: { kind: 'bytes', data: meta.data }, length: size });
    return;
  }
  ex.respond({
    status: 200,
    headers,
    body: { kind: 'file', fd, parts: [{ pre: null, start: 0, end: size }], tail: null },
    length: size,
  });
}

/** Step: 206 with one range, or multipart/byteranges for several (RFC 9110 §14.6). */
function answerRanges(
  ex: Exchange,
  meta: FileMeta,
  fd: number,
  ranges: ReadonlyArray<{ start: number; end: number }>,
  vary: string,
): void {
  const common = `Last-Modified: ${meta.lastModified}\r\nETag: ${meta.etag}\r\nAccept-Ranges: bytes\r\n`;
  const type = /^Content-Type: ([^\r]*)\r\n/.exec(meta.headers)?.[1] ?? 'application/octet-stream';
  const enc = (/Content-Encoding: [^\r]*\r\n/.exec(meta.headers)?.[0] ?? '') + vary;
  const r = ranges.length === 1 ? ranges[0] : undefined;
  if (r !== undefined) {
    const headers = `Content-Type: ${type}\r\n${common}${enc}Content-Range: ${contentRange(r.start, r.end, meta.size)}\r\n`;
    const len = r.end - r.start + 1;
    if (meta.data !== null) {
      ex.respond({
        status: 206,
        headers,
        body: { kind: 'bytes', data: meta.data.subarray(r.start, r.end + 1) },
        length: len,
      });
    } else {
      ex.respond({
        status: 206,
        headers,
        body: { kind: 'file', fd, parts: [{ pre: null, start: r.start, end: r.end + 1 }], tail: null },
        length: len,
      });
    }
    return;
  }
  const boundary = newBoundary();
  const layout = byteRangesLayout(ranges, meta.size, type, boundary);
  const headers = `Content-Type: multipart/byteranges; boundary=${boundary}\r\n${common}${enc}`;
  if (meta.data !== null) {
    const data = meta.data;
    const pieces: Buffer[] = [];
    for (const p of layout.parts) pieces.push(p.head, data.subarray(p.start, p.end + 1));
    pieces.push(layout.tail);
    ex.respond({ status: 206, headers, body: { kind: 'bytes', data: Buffer.concat(pieces) }, length: layout.length });
    return;
  }
  const parts: FilePart[] = layout.parts.map((p) => ({ pre: p.head, start: p.start, end: p.end + 1 }));
  ex.respond({ status: 206, headers, body: { kind: 'file', fd, parts, tail: layout.tail }, length: layout.length });
}
