/**
 * APR1-MD5 (`$apr1$`, Apache's variant of Poul-Henning Kamp's MD5-crypt, the default of `htpasswd -m`): 1000
 * rounds of MD5 over the password and an 8-character salt. Pure, a millisecond or so.
 */
import { createHash } from 'node:crypto';
import { cryptBase64 } from './sha-crypt.js';

const MAGIC = '$apr1$';

/** A parsed `$apr1$SALT$HASH`, or null. */
export function parseApr1(text: string): { readonly salt: string; readonly text: string } | null {
  const m = /^\$apr1\$([^$]{0,8})\$[./0-9A-Za-z]{22}$/.exec(text);
  return m === null ? null : { salt: m[1] ?? '', text };
}

/** The `$apr1$` hash of `password` with `salt`. */
export function apr1(password: Buffer, salt: string): string {
  const s = Buffer.from(salt, 'latin1');
  const md5 = (...parts: Buffer[]): Buffer => {
    const h = createHash('md5');
    for (const p of parts) h.update(p);
    return h.digest();
  };
  let fin = md5(password, s, password);
  const ctx = createHash('md5').update(password).update(MAGIC).update(s);
  for (let pl = password.length; pl > 0; pl -= 16) ctx.update(fin.subarray(0, Math.min(pl, 16)));
  const zero = Buffer.alloc(1);
  const first = password.subarray(0, 1);
  for (let i = password.length; i !== 0; i >>>= 1) ctx.update(i & 1 ? zero : first.length > 0 ? first : zero);
  fin = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const h = createHash('md5');
    h.update(i & 1 ? password : fin);
    if (i % 3 !== 0) h.update(s);
    if (i % 7 !== 0) h.update(password);
    h.update(i & 1 ? fin : password);
    fin = h.digest();
  }
  const order = [
    [0, 6, 12],
    [1, 7, 13],
    [2, 8, 14],
    [3, 9, 15],
    [4, 10, 5],
  ] as const;
  let out = '';
  for (const [a, b, c] of order) out += cryptBase64(((fin[a] ?? 0) << 16) | ((fin[b] ?? 0) << 8) | (fin[c] ?? 0), 4);
  out += cryptBase64(fin[11] ?? 0, 2);
  return `${MAGIC}${salt}$${out}`;
}
