/**
 * Accept-Encoding negotiation (RFC 9110 §12.5.3, §12.4.2): the server offers some content codings, the client
 * weighs them; this picks the one to send.
 */

/** The content codings this server produces. */
export type Coding = 'br' | 'gzip';

/** The coding to send; `identity` means none. */
export type Choice = Coding | 'identity';

/** Codings in the order that breaks a tie of q-values: br first, it is the smaller. */
const PREFERENCE: readonly Coding[] = ['br', 'gzip'];

/**
 * The q-value the header gives each coding name (lower case; `x-gzip` counts as gzip, RFC 9110 §8.4.1.3).
 * Null when the header is absent. A malformed weight makes that element count as q=0: refusing is the safe
 * reading of a weight we cannot read.
 */
export function parseAcceptEncoding(header: string | undefined): Map<string, number> | null {
  if (header === undefined) return null;
  const weights = new Map<string, number>();
  for (const element of header.split(',')) {
    const [rawName, ...params] = element.split(';');
    const name = (rawName ?? '').trim().toLowerCase();
    if (name === '') continue; // empty list elements are allowed (§5.6.1.2)
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*(\S*)\s*$/i.exec(p);
      if (m === null) continue;
      // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (§12.4.2)
      const v = m[1] ?? '';
      q = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v) ? Number(v) : 0;
    }
    const key = name === 'x-gzip' ? 'gzip' : name;
    // A coding named twice: the first weight stands (the list is not meant to repeat; this is deterministic).
    if (!weights.has(key)) weights.set(key, q);
  }
  return weights;
}

/**
 * Chooses among `offered` for an Accept-Encoding value. Without the header, or with an empty one, no coding is
 * acceptable but identity (§12.5.3). A coding the header does not name takes the weight of `*`, if any. The
 * highest positive weight wins, br before gzip on a tie; identity wins only when the client weighs it above
 * every offered coding (it is acceptable by default, but a client that lists codings wants one of them). When
 * everything, identity included, is refused (`identity;q=0`, `*;q=0`), identity is sent all the same: the
 * server may disregard the field rather than answer 406 (§12.5.3), as nginx does.
 */
export function chooseCoding(header: string | undefined, offered: ReadonlySet<Coding>): Choice {
  const weights = parseAcceptEncoding(header);
  if (weights === null || offered.size === 0) return 'identity';
  const star = weights.get('*');
  let best: Coding | null = null;
  let bestQ = 0;
  for (const coding of PREFERENCE) {
    if (!offered.has(coding)) continue;
    const q = weights.get(coding) ?? star ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  if (best === null) return 'identity';
  const identityQ = weights.get('identity');
  return identityQ !== undefined && identityQ > bestQ ? 'identity' : best;
}
