/**
 * Unlinked temporary files for CGI: the spooled request body a script reads as its stdin, and the output held
 * while the client cannot take it. Unlinked at once, so nothing is left behind whatever happens.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const tempName = (): string => path.join(os.tmpdir(), `localhost-cgi-${process.pid}-${randomBytes(8).toString('hex')}`);

/** A request body spooled to a temporary file: written through `wfd`, read by the script from `rfd`. */
export interface BodySpool {
  readonly wfd: number;
  readonly rfd: number;
  size: number;
}

/** Opens a body spool (throws fs errors). */
export function openBodySpool(): BodySpool {
  const file = tempName();
  const wfd = fs.openSync(file, 'wx', 0o600);
  let rfd = -1;
  try {
    rfd = fs.openSync(file, 'r');
  } finally {
    // The open descriptors keep it readable.
    fs.unlinkSync(file);
    if (rfd < 0) fs.closeSync(wfd);
  }
  return { wfd, rfd, size: 0 };
}

/** Appends all of `chunk` (writeSync may write less than asked). Throws fs errors. */
export function appendAll(fd: number, chunk: Buffer, at?: number): void {
  let off = 0;
  while (off < chunk.length)
    off += fs.writeSync(fd, chunk, off, chunk.length - off, at === undefined ? null : at + off);
}

/** A read-write temporary file (throws fs errors). */
export function openScratchFile(): number {
  const file = tempName();
  const fd = fs.openSync(file, 'wx+', 0o600);
  fs.unlinkSync(file);
  return fd;
}

export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}
