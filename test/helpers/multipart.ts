/**
 * multipart/form-data bodies built by hand (RFC 7578), for tests that need exact bytes: file names no client
 * library would send as they are (backslashes, bidi controls, dot-names).
 */

/** One part: a form field, or a file when `filename` is given. */
export interface Part {
  readonly name: string;
  readonly filename?: string;
  readonly contentType?: string;
  readonly content: Buffer | string;
}

export const BOUNDARY = 'test-boundary-7MA4YWxkTrZu0gW';

/** The body for `parts` with BOUNDARY; file names are written raw between quotes, as browsers do. */
export function multipartBody(parts: readonly Part[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"` + (p.filename !== undefined ? `; filename="${p.filename}"` : '');
    const type = p.contentType ?? (p.filename !== undefined ? 'application/octet-stream' : undefined);
    const head = `--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${type !== undefined ? `Content-Type: ${type}\r\n` : ''}\r\n`;
    chunks.push(
      Buffer.from(head, 'utf8'),
      Buffer.isBuffer(p.content) ? p.content : Buffer.from(p.content),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

/** A complete POST request carrying `parts` to `target`. */
export function multipartRequest(target: string, parts: readonly Part[], host = 'localhost'): Buffer {
  const body = multipartBody(parts);
  const head =
    `POST ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
