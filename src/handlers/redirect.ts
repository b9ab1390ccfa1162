/**
 * `redirect URL` locations and trailing-slash redirects: 301 with Location (RFC 9110 §15.4.2).
 */
import { bytesResponse, headerLine, type Response } from '../http/response.js';
import { escapeHtml } from '../lib/html.js';

/** A redirect response to `location` with a tiny HTML body, as NGINX sends. */
export function redirectResponse(status: 301 | 302 | 303 | 307 | 308, location: string): Response {
  const body = Buffer.from(
    `<!DOCTYPE html>\n<html><head><title>${status} Moved</title></head><body>` +
      `<p>Moved to <a href="${escapeHtml(location)}">${escapeHtml(location)}</a>.</p></body></html>\n`,
  );
  return bytesResponse(status, 'text/html; charset=utf-8', body, headerLine('Location', location));
}
