/**
 * Uploads (docs/ARCHITECTURE.md "Handlers"): a multipart/form-data POST stores each file part in the directory the URL names; any other
 * POST body is stored as the file the URL names. Bytes go to disk as they arrive (bounded memory), under a
 * temporary name that becomes the real one only when the body is complete: an aborted upload leaves nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { boundaryOf, isFormData, MultipartParser, type MultipartSink, type PartInfo } from '../http/multipart.js';
import { bytesResponse, headerLine } from '../http/response.js';
import { encodePath } from '../router/path.js';
import { escapeHtml } from '../lib/html.js';
import { errorResponse } from './error-page.js';
import type { BodyReceiver, Exchange, FileTarget } from './exchange.js';
import { refuseUnconfined, statusForFsError } from './confine.js';
import { errnoCode } from '../lib/errno.js';
import { forget } from './stat-cache.js';
import { PendingFile, sanitizeFilename } from './upload-store.js';

/** The 201 answer listing what was stored, with Location naming the first file. */
function created(ex: Exchange, dirUrl: string, names: readonly string[]): void {
  const urls = names.map((n) => encodePath(dirUrl + n));
  const items = names
    .map((n) => `<li><a href="${escapeHtml(encodePath(dirUrl + n))}">${escapeHtml(n)}</a></li>`)
    .join('\n');
  const html =
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>201 Created</title></head><body>` +
    `<h1>Stored ${names.length} file${names.length === 1 ? '' : 's'}</h1>\n<ul>\n${items}\n</ul>` +
    `<p><a href="${escapeHtml(encodePath(dirUrl))}">Back to ${escapeHtml(dirUrl)}</a></p></body></html>\n`;
  ex.respond(
    bytesResponse(
      201,
      'text/html; charset=utf-8',
      Buffer.from(html),
      headerLine('Location', urls[0] ?? encodePath(dirUrl)),
    ),
  );
}

/**
 * The status for a filesystem error while storing: a name too long for the filesystem is the client's (400), a
 * full disk or quota is 507 (RFC 4918 §11.5), no free name 409; the rest as for reads (404, 403, 500).
 */
export function uploadStatusFor(err: unknown): number {
  switch (errnoCode(err)) {
    case 'ENAMETOOLONG':
      return 400;
    case 'ENOSPC':
    case 'EDQUOT':
      return 507;
    case 'EEXIST':
      return 409;
    case 'EROFS':
      return 403;
    default:
      return statusForFsError(err);
  }
}

/** Answers a failure while storing: mapped here, logged unless it is the client's own (a missing directory, a
 *  name too long). Never a stack trace in the response. */
function storageFailed(ex: Exchange, err: unknown): void {
  const status = uploadStatusFor(err);
  const code = errnoCode(err);
  if (status !== 400 && code !== 'ENOENT' && code !== 'ENOTDIR') {
    ex.logError(`store "${ex.path}" failed (${code || String(err)}) for ${ex.head.method} ${ex.head.target}`);
  }
  const detail = status === 400 ? 'The file name is too long for the filesystem.' : '';
  ex.respond(errorResponse(ex.server, status, { detail }));
}

/** Thrown from partBegin (out of the parser's write) for a part whose file name sanitises to nothing. */
class UnusableName extends Error {}

/** Receives a multipart body: one PendingFile per file part, committed together at the end. */
class MultipartUpload implements BodyReceiver, MultipartSink {
  private readonly parser: MultipartParser;
  private current: PendingFile | null = null;
  private readonly done: PendingFile[] = [];
  private failed = false;

  constructor(
    private readonly ex: Exchange,
    private readonly dir: string,
    private readonly dirUrl: string,
    boundary: string,
  ) {
    this.parser = new MultipartParser(boundary, this);
  }

  partBegin(info: PartInfo): void {
    // A plain form field, or a file input left empty (browsers send filename=""): nothing to store.
    if (info.filename === null || info.filename === '') return;
    const name = sanitizeFilename(info.filename);
    if (name === null) throw new UnusableName(info.filename);
    this.current = PendingFile.create(this.dir, name);
  }

  partData(chunk: Buffer): void {
    this.current?.write(chunk);
  }

  partEnd(): void {
    if (this.current !== null) this.done.push(this.current);
    this.current = null;
  }

  data(chunk: Buffer): boolean {
    if (this.failed) return true;
    try {
      this.parser.write(chunk);
    } catch (err) {
      if (err instanceof UnusableName) {
        const detail = 'A file name has nothing usable left once path, control and leading-dot characters are removed.';
        this.discardAll(() => {
          this.ex.respond(errorResponse(this.ex.server, 400, { detail }));
        });
      } else {
        this.discardAll(() => {
          storageFailed(this.ex, err);
        });
      }
      return true;
    }
    if (this.parser.error !== null)
      this.discardAll(() => {
        this.ex.respond(errorResponse(this.ex.server, 400));
      });
    return true;
  }

  end(): void {
    if (this.failed) return;
    this.parser.end();
    if (this.parser.error !== null || !this.parser.done) {
      this.discardAll(() => {
        this.ex.respond(errorResponse(this.ex.server, 400));
      });
      return;
    }
    if (this.done.length === 0) {
      this.discardAll(() => {
        this.ex.respond(errorResponse(this.ex.server, 400));
      });
      return;
    }
    const names: string[] = [];
    try {
      for (const f of this.done) {
        const name = f.commit();
        forget(path.join(this.dir, name));
        names.push(name);
      }
    } catch (err) {
      this.discardAll(() => {
        storageFailed(this.ex, err);
      });
      return;
    }
    created(this.ex, this.dirUrl, names);
  }

  abort(): void {
    this.discardAll(null);
  }

  /** Discards every file of this upload (committed ones too: the upload is all or nothing), then answers. */
  private discardAll(answer: (() => void) | null): void {
    if (this.failed) return;
    this.failed = true;
    this.current?.abort();
    for (const f of this.done) f.abort();
    this.current = null;
    answer?.();
  }
}

/** Receives a raw body stored as one file. */
class RawUpload implements BodyReceiver {
  private failed = false;

  constructor(
    private readonly ex: Exchange,
    private readonly file: PendingFile,
    private readonly dir: string,
    private readonly dirUrl: string,
  ) {}

  data(chunk: Buffer): boolean {
    if (this.failed) return true;
    try {
      this.file.write(chunk);
    } catch (err) {
      this.failed = true;
      this.file.abort();
      storageFailed(this.ex, err);
    }
    return true;
  }

  end(): void {
    if (this.failed) return;
    try {
      const name = this.file.commit();
      forget(path.join(this.dir, name));
      created(this.ex, this.dirUrl, [name]);
    } catch (err) {
      this.failed = true;
      this.file.abort();
      storageFailed(this.ex, err);
    }
  }

  abort(): void {
    this.failed = true;
    this.file.abort();
  }
}

/** Starts an upload for a POST to `fsPath` (the URL mapped under the location's root). */
export function serveUpload(ex: Exchange, target: FileTarget): BodyReceiver | null {
  const { root, file: fsPath } = target;
  const ct = ex.head.headers.get('content-type') ?? '';
  try {
    const st = fs.statSync(fsPath, { throwIfNoEntry: false });
    if (isFormData(ct)) {
      const boundary = boundaryOf(ct);
      if (boundary === null) {
        ex.respond(errorResponse(ex.server, 400, { detail: 'The multipart/form-data body has no valid boundary.' }));
        return null;
      }
      if (st === undefined || !st.isDirectory()) {
        ex.respond(errorResponse(ex.server, st === undefined ? 404 : 409));
        return null;
      }
      // The URL is confined lexically; a symlinked directory on the way must not lead out of the root.
      const refused = refuseUnconfined(ex, root, fsPath);
      if (refused !== null) {
        ex.respond(refused);
        return null;
      }
      const dirUrl = ex.path.endsWith('/') ? ex.path : ex.path + '/';
      return new MultipartUpload(ex, fsPath, dirUrl, boundary);
    }
    if (st?.isDirectory() === true || ex.path.endsWith('/')) {
      // A raw body needs a file name, and the URL names a directory: only a form can say what to call the files.
      if (st === undefined) ex.respond(errorResponse(ex.server, 404));
      else
        ex.respond(
          errorResponse(ex.server, 415, { detail: 'A POST to a directory needs a multipart/form-data body.' }),
        );
      return null;
    }
    const name = sanitizeFilename(path.basename(fsPath));
    if (name === null || name !== path.basename(fsPath)) {
      ex.respond(errorResponse(ex.server, 400, { detail: 'The file name in the URL is not one this server stores.' }));
      return null;
    }
    const refused = refuseUnconfined(ex, root, path.dirname(fsPath));
    if (refused !== null) {
      ex.respond(refused);
      return null;
    }
    const file = PendingFile.create(path.dirname(fsPath), name);
    const slash = ex.path.lastIndexOf('/');
    return new RawUpload(ex, file, path.dirname(fsPath), ex.path.slice(0, slash + 1));
  } catch (err) {
    storageFailed(ex, err);
    return null;
  }
}
