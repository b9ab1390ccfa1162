/**
 * The upstream's response head (RFC 9112 §4, §5), parsed incrementally from its bytes, and the fields passed on
 * to the client: hop-by-hop fields removed (RFC 9110 §7.6.1), and those nginx hides by default or
 * `proxy_hide_header` names.
 */
import { headerLine } from '../../http/response.js';
import { isToken } from '../../http/abnf.js';
import { err, ok, type Result } from '../../lib/result.js';

/** The most bytes a response head may take (nginx's proxy_buffer_size is smaller; a bigger head is a 502). */
export const MAX_RESPONSE_HEAD = 32 * 1024;

/** One parsed response head. */
export interface UpstreamHead {
  readonly status: number;
  /** Fields in order, names as sent. */
  readonly fields: readonly (readonly [string, string])[];
  /** Content-Length, or -1. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** The upstream will close after this response (Connection: close, or HTTP/1.0 without keep-alive). */
  readonly close: boolean;
  /** Tokens of the Connection field, lower case. */
  readonly connection: ReadonlySet<string>;
}

/** Hop-by-hop fields (RFC 9110 §7.6.1), never forwarded either way; and those listed in Connection. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Response fields nginx does not pass by default (proxy_pass_header passes them); Date and Server are ours. */
const HIDDEN_BY_DEFAULT: ReadonlySet<string> = new Set([
  'x-pad',
  'x-accel-redirect',
  'x-accel-expires',
  'x-accel-limit-rate',
  'x-accel-buffering',
  'x-accel-charset',
]);

/** Fields the response writer sets itself. */
const WRITER_OWN: ReadonlySet<string> = new Set(['date', 'server', 'content-length']);

/** Parses a complete head (`text` up to and without the empty line). */
export function parseResponseHead(text: string): Result<UpstreamHead, string> {
  const lines = text.split(/\r?\n/);
  const statusLine = lines[0] ?? '';
  const m = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: [^\r\n]*)?$/.exec(statusLine);
  if (m === null) return err(`bad status line "${statusLine.slice(0, 80)}"`);
  const minor = m[1] === '1' ? 1 : 0;
  const status = Number(m[2]);
  const fields: (readonly [string, string])[] = [];
  let contentLength = -1;
  let chunked = false;
  const connection = new Set<string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!isToken(name)) return err(`bad header line "${line.slice(0, 80)}"`);
    const value = line.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value)) return err(`bad header value of ${name}`);
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) return err(`bad Content-Length "${value}"`);
      const n = Number(value);
      if (contentLength >= 0 && contentLength !== n) return err('differing Content-Length fields');
      contentLength = n;
    } else if (lower === 'transfer-encoding') {
      const codings = value
        .toLowerCase()
        .split(',')
        .map((c) => c.trim());
      if (codings[codings.length - 1] !== 'chunked') return err(`unsupported Transfer-Encoding "${value}"`);
      chunked = true;
    } else if (lower === 'connection') {
      for (const t of value.toLowerCase().split(',')) if (t.trim() !== '') connection.add(t.trim());
    }
    fields.push([name, value]);
  }
  // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length (and the connection must not be reused).
  const both = chunked && contentLength >= 0;
  if (both) contentLength = -1;
  const close = both || connection.has('close') || (minor === 0 && !connection.has('keep-alive'));
  return ok({ status, fields, contentLength, chunked, close, connection });
}

/** Finds the end of a head in `buf`: the offset just past the empty line, or -1. Accepts bare LF endings. */
export function headEnd(buf: Buffer): number {
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    if (buf[i + 1] === 0x0a) return i + 2;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

/** The header lines the client gets. */
export function clientHeaderLines(head: UpstreamHead, hide: ReadonlySet<string>, pass: ReadonlySet<string>): string {
  let out = '';
  for (const [name, value] of head.fields) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || head.connection.has(lower) || WRITER_OWN.has(lower) || hide.has(lower)) continue;
    if (HIDDEN_BY_DEFAULT.has(lower) && !pass.has(lower)) continue;
    out += headerLine(name, value);
  }
  return out;
}
