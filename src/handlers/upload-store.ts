/**
 * The upload file store (docs/ARCHITECTURE.md "Uploads"): safe file names, and files written under a
 * temporary dot-name that appear under their final name only once complete.
 *
 * All file work is synchronous (docs/ARCHITECTURE.md "File I/O"); the caller writes bounded chunks. Errors from the
 * file system (ENOSPC, EACCES, ...) are thrown as NodeJS.ErrnoException by create(), write()
 * and commit(): the caller answers 500 and calls abort(). This is the one place in the
 * project where throwing is the interface.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { errnoCode } from '../lib/errno.js';

/** Longest file name most file systems accept (NAME_MAX), in UTF-8 bytes. */
const MAX_NAME_BYTES = 255;
/** Longest suffix treated as an extension worth keeping when truncating. */
const MAX_EXT_BYTES = 32;
/** Collision suffixes tried before giving up with EEXIST. */
const MAX_SUFFIX = 10000;

/** Splits "a.txt" into ["a", ".txt"]; a leading dot or no dot means no extension. */
function splitExt(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

/** The longest prefix of s (whole code points) that fits in maxBytes of UTF-8. */
function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  let out = '';
  let used = 0;
  for (const cp of s) {
    const n = Buffer.byteLength(cp, 'utf8');
    if (used + n > maxBytes) break;
    out += cp;
    used += n;
  }
  return out;
}

/** Fits stem+ext into maxBytes, shortening the stem first so the extension survives. */
function fitName(stem: string, ext: string, maxBytes: number): string {
  const extBytes = Buffer.byteLength(ext, 'utf8');
  if (extBytes > MAX_EXT_BYTES || extBytes >= maxBytes) return truncateUtf8(stem + ext, maxBytes);
  return truncateUtf8(stem, maxBytes - extBytes) + ext;
}

/** Control characters (C0, DEL, C1) and the bidirectional controls that can make a listed name read as another
 *  (U+061C, U+200E-F, U+202A-E, U+2066-9: "photo\u202Egpj.exe" shows as "photoexe.jpg"). */
const UNSAFE_CHARS = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The prefix and suffix of an upload in progress (a dot-file, so listings and the router hide it). */
const TEMP_PREFIX = '.upload-';
const TEMP_SUFFIX = '.part';

/** True for the base name of an upload still being written: never served, listed or deleted. */
export function isTemporaryUpload(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX);
}

/**
 * A client-supplied file name reduced to a safe base name: what follows the last "/" or "\\" (so
 * "C:\\Users\\me\\photo.jpg" is "photo.jpg" and "..\\..\\x.txt" is "x.txt"), without control or bidi characters,
 * trimmed, without leading dots (no hidden file, nothing the server's temporary names could match), at most 255
 * UTF-8 bytes with the extension kept; null when nothing usable remains.
 */
export function sanitizeFilename(raw: string): string | null {
  const base = raw.slice(Math.max(raw.lastIndexOf('/'), raw.lastIndexOf('\\')) + 1);
  const clean = base
    .replace(UNSAFE_CHARS, '')
    .trim()
    .replace(/^[.\s]+/, '');
  if (clean === '') return null;
  const [stem, ext] = splitExt(clean);
  const fitted = fitName(stem, ext, MAX_NAME_BYTES).trim();
  return fitted === '' ? null : fitted;
}

/** `name` with `-n` before its extension, shortened so the result fits in NAME_MAX. */
function suffixed(name: string, n: number): string {
  let [stem, ext] = splitExt(name);
  if (Buffer.byteLength(ext, 'utf8') > MAX_EXT_BYTES) [stem, ext] = [name, ''];
  const tail = `-${n}${ext}`;
  return truncateUtf8(stem, MAX_NAME_BYTES - Buffer.byteLength(tail, 'utf8')) + tail;
}

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  e.code = code;
  return e;
}

/**
 * A file being uploaded: written to `.upload-<hex>.part` in the target directory, then
 * published by commit() under its name (or a suffixed one), never overwriting a file.
 */
export class PendingFile {
  private fd: number;
  private bytes = 0;
  private finished = false;

  private constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly tmpPath: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Opens a fresh temporary file in `dir` for a file to be called `name`, which must already
   * be a sanitised base name (else EINVAL is thrown). Throws fs errors.
   */
  static create(dir: string, name: string): PendingFile {
    if (sanitizeFilename(name) !== name) throw errnoError('EINVAL', `not a safe file name: ${JSON.stringify(name)}`);
    const tmp = path.join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`);
    // 'wx': O_EXCL, so an existing file (or a planted symlink) is never opened.
    const fd = fs.openSync(tmp, 'wx', 0o644);
    return new PendingFile(dir, name, tmp, fd);
  }

  /** Bytes written so far. */
  get size(): number {
    return this.bytes;
  }

  /** Appends the whole chunk (writeSync may write less than asked). Throws fs errors. */
  write(chunk: Buffer): void {
    if (this.fd < 0) throw errnoError('EBADF', 'write to a committed or aborted upload');
    let off = 0;
    while (off < chunk.length) {
      off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
    }
    this.bytes += chunk.length;
  }

  /**
   * Closes the file and links it under its name, or `stem-1.ext`, `stem-2.ext`... when taken:
   * link(2) fails with EEXIST instead of replacing, so no file is ever overwritten, even by a
   * concurrent writer. Returns the final base name. Throws fs errors.
   */
  commit(): string {
    if (this.finished) throw errnoError('EBADF', 'upload already committed or aborted');
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      fs.closeSync(fd);
    }
    for (let i = 0; i <= MAX_SUFFIX; i++) {
      const candidate = i === 0 ? this.name : suffixed(this.name, i);
      try {
        fs.linkSync(this.tmpPath, path.join(this.dir, candidate));
      } catch (e) {
        if (errnoCode(e) === 'EEXIST') continue;
        throw e;
      }
      this.finished = true;
      try {
        fs.unlinkSync(this.tmpPath);
      } catch {
        // The file is complete and published; a leftover dot-file is not worth failing for.
      }
      return candidate;
    }
    throw errnoError('EEXIST', `no free name for ${this.name} in ${this.dir}`);
  }

  /** Closes and removes the temporary file; never throws; no-op after commit or a first abort. */
  abort(): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      try {
        fs.closeSync(fd);
      } catch {
        // Nothing useful to do: the descriptor is gone either way.
      }
    }
    if (this.finished) return;
    this.finished = true;
    try {
      fs.unlinkSync(this.tmpPath);
    } catch {
      // Already gone (or the directory vanished): nothing left behind by us.
    }
  }
}
