/**
 * application/x-www-form-urlencoded strings (WHATWG URL §5), the format of a session's data
 * (`SESSION_DATA` / `X-Session-Data`, DESIGN §7). Pure functions that never throw.
 */

/** Decodes one name or value: "+" → space, valid %XX escapes → bytes, bad escapes kept literally,
 *  then UTF-8 with invalid sequences replaced by U+FFFD (as the WHATWG parser does). */
function decodeComponent(s: string): string {
  const src = Buffer.from(s.replace(/\+/g, ' '), 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0x25 && i + 2 < src.length && isHex(src[i + 1]!) && isHex(src[i + 2]!)) {
      out[n++] = parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16);
      i += 2;
    } else {
      out[n++] = b;
    }
  }
  return out.toString('utf8', 0, n);
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

/**
 * Parses `a=1&b=x+y` into name → value. Empty pieces (`&&`) are skipped; a piece without "="
 * is a name with value "". A repeated name: the last value wins, at the position of its first
 * occurrence (Map semantics).
 */
export function parseForm(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const piece of s.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    out.set(decodeComponent(name), decodeComponent(value));
  }
  return out;
}

/** Lone UTF-16 surrogates would make encodeURIComponent throw; they become U+FFFD instead. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const encodeComponent = (s: string): string => encodeURIComponent(s.replace(LONE_SURROGATE, '\uFFFD'));

/**
 * Writes `name=value&...` in the map's insertion order, each part percent-encoded as by
 * encodeURIComponent (space → %20). `parseForm(serializeForm(m))` equals `m` for well-formed UTF-16 strings.
 */
export function serializeForm(m: ReadonlyMap<string, string>): string {
  const parts: string[] = [];
  for (const [k, v] of m) parts.push(`${encodeComponent(k)}=${encodeComponent(v)}`);
  return parts.join('&');
}
