/**
 * Which content codings a response may be given (README "Compression"), and whole-buffer encoding with the
 * synchronous zlib calls (never the thread pool: docs/ARCHITECTURE.md "Constraints").
 */
import * as zlib from 'node:zlib';
import type { CodingConfig, CompressionConfig } from '../config/types.js';
import { chooseCoding, type Coding } from '../http/accept-encoding.js';
import type { BodySource, Response } from '../http/response.js';
import { CompressedSource } from './compressed-source.js';

/** No coding is possible. */
export const NO_CODINGS: ReadonlySet<Coding> = new Set();

/** True when `contentType` (parameters ignored) is one of `types`: an exact type, `type/*`, or `*`. */
export function typeMatches(types: readonly string[], contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  const slash = type.indexOf('/');
  for (const t of types) {
    if (t === type || t === '*') return true;
    if (t.endsWith('/*') && slash !== -1 && t.length === slash + 2 && t.startsWith(type.slice(0, slash + 1)))
      return true;
  }
  return false;
}

function allows(c: CodingConfig, contentType: string, length: number): boolean {
  return c.on && length >= c.minLength && typeMatches(c.types, contentType);
}

/**
 * The codings the location would apply to a body of this type and length (`length` -1: unknown, as for a
 * stream, which the minimum length cannot refuse).
 */
export function codingsFor(comp: CompressionConfig, contentType: string, length: number): ReadonlySet<Coding> {
  const n = length < 0 ? Infinity : length;
  const br = allows(comp.brotli, contentType, n);
  const gzip = allows(comp.gzip, contentType, n);
  if (!br && !gzip) return NO_CODINGS;
  const set = new Set<Coding>();
  if (br) set.add('br');
  if (gzip) set.add('gzip');
  return set;
}

/** The level the location compresses `coding` with. */
export function levelFor(comp: CompressionConfig, coding: Coding): number {
  return coding === 'br' ? comp.brotli.level : comp.gzip.level;
}

/** `data` encoded whole with `coding` at `level`, synchronously. */
export function encodeWhole(coding: Coding, data: Buffer, level: number): Buffer {
  if (coding === 'gzip') return zlib.gzipSync(data, { level });
  return zlib.brotliCompressSync(data, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: level,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
}

/** How a streamed response (CGI output) goes out: its header lines, and whether it is gzip-encoded here. */
export interface StreamPlan {
  readonly headers: string;
  readonly gzip: boolean;
}

/**
 * Whether to gzip a streamed 200 answer with `headers` (the handler's lines) for a request with `reqHeaders`.
 * Streams get gzip only (br cannot be made in stateless slices; see http/gzip-stream.ts). Not for a request with
 * Range (it goes to the identity), nor for a body the script has already encoded. `Vary` is added whenever gzip
 * could have applied; an ETag of the script's is weakened on the encoded answer (RFC 9110 §8.8.1, as nginx).
 */
export function planStream(
  comp: CompressionConfig | undefined,
  reqHeaders: ReadonlyMap<string, string>,
  status: number,
  headers: string,
): StreamPlan {
  if (comp === undefined || status !== 200 || /^content-encoding:/im.test(headers)) return { headers, gzip: false };
  const type = /^content-type:[ \t]*([^\r\n]*)/im.exec(headers)?.[1] ?? '';
  if (!allows(comp.gzip, type, Infinity)) return { headers, gzip: false };
  const varied = /^vary:.*accept-encoding/im.test(headers) ? headers : headers + 'Vary: Accept-Encoding\r\n';
  const wanted = !reqHeaders.has('range') && chooseCoding(reqHeaders.get('accept-encoding'), GZIP_ONLY) === 'gzip';
  if (!wanted) return { headers: varied, gzip: false };
  const weak = varied.replace(/^(etag:[ \t]*)(")/im, '$1W/$2');
  return { headers: weak + 'Content-Encoding: gzip\r\n', gzip: true };
}

const GZIP_ONLY: ReadonlySet<Coding> = new Set(['gzip']);

/** A streamed answer of `source` as it goes out: gzip-encoded here when planStream says so (length then unknown). */
export function streamedResponse(
  comp: CompressionConfig | undefined,
  reqHeaders: ReadonlyMap<string, string>,
  status: number,
  headers: string,
  source: BodySource,
  length: number,
): Response {
  const plan = planStream(comp, reqHeaders, status, headers);
  return {
    status,
    headers: plan.headers,
    body: { kind: 'stream', source: plan.gzip ? new CompressedSource(source, comp?.gzip.level ?? 1) : source },
    length: plan.gzip ? -1 : length,
  };
}
