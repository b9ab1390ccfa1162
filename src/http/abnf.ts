/**
 * The character classes of HTTP's ABNF (RFC 9110 §5.6, RFC 5234 B.1) as byte tables, shared by every parser: the
 * request head, chunked framing, multipart, cookies, CGI output, percent-decoding.
 */

export const HT = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SP = 0x20;

/** tchar (RFC 9110 §5.6.2): 1 for a token byte, 0 otherwise. */
export const TCHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "!#$%&'*+-.^_`|~") t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** field-vchar / SP / HTAB / obs-text (RFC 9110 §5.5): 1 for a byte allowed in a field value. */
export const FIELD_VALUE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  t[HT] = 1;
  for (let c = 0x20; c <= 0x7e; c++) t[c] = 1;
  for (let c = 0x80; c <= 0xff; c++) t[c] = 1;
  return t;
})();

/** HEXDIG values, 255 for a byte that is not a hex digit. */
export const HEX: Uint8Array = (() => {
  const t = new Uint8Array(256).fill(255);
  for (let c = 0; c < 10; c++) t[0x30 + c] = c;
  for (let c = 0; c < 6; c++) {
    t[0x41 + c] = 10 + c;
    t[0x61 + c] = 10 + c;
  }
  return t;
})();

/** True when `s` is a token: one or more tchar. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** The value of the hex digit with char code `c` (any code, 255 when not a hex digit). */
export function hexValue(c: number): number {
  return c > 0xff ? 255 : (HEX[c] ?? 255);
}
