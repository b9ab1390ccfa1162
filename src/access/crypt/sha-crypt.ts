/**
 * SHA-256-crypt and SHA-512-crypt (`$5$`, `$6$`; Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512"), as
 * `htpasswd -2` and `-5` write them. The rounds (default 5000, up to 999999999) run in resumable slices, like
 * bcrypt's, so a large `rounds=` never holds the event loop.
 */
import { createHash } from 'node:crypto';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** crypt(3)'s base64: `n` characters of `w`, least significant six bits first. */
export function cryptBase64(w: number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ITOA64[w & 0x3f] ?? '';
    w >>>= 6;
  }
  return out;
}

/** A parsed SHA-crypt hash. */
export interface ShaCryptHash {
  readonly alg: 'sha256' | 'sha512';
  readonly rounds: number;
  /** Whether `rounds=` was written (then it is part of the output). */
  readonly explicitRounds: boolean;
  readonly salt: string;
  readonly text: string;
}

/** `$5$[rounds=N$]SALT$HASH` or `$6$…`, or null. */
export function parseShaCrypt(text: string): ShaCryptHash | null {
  const m = /^\$([56])\$(?:rounds=(\d{1,9})\$)?([^$]{0,16})\$([./0-9A-Za-z]+)$/.exec(text);
  if (m === null) return null;
  const alg = m[1] === '5' ? 'sha256' : 'sha512';
  if ((m[4] ?? '').length !== (alg === 'sha256' ? 43 : 86)) return null;
  const written = m[2];
  // Drepper's rules: rounds are clamped to 1000..999999999.
  const rounds = written === undefined ? 5000 : Math.min(999_999_999, Math.max(1000, Number(written)));
  return { alg, rounds, explicitRounds: written !== undefined, salt: m[3] ?? '', text };
}

const ORDER_256: readonly (readonly [number, number, number])[] = [
  [0, 10, 20],
  [21, 1, 11],
  [12, 22, 2],
  [3, 13, 23],
  [24, 4, 14],
  [15, 25, 5],
  [6, 16, 26],
  [27, 7, 17],
  [18, 28, 8],
  [9, 19, 29],
];
const ORDER_512: readonly (readonly [number, number, number])[] = [
  [0, 21, 42],
  [22, 43, 1],
  [44, 2, 23],
  [3, 24, 45],
  [25, 46, 4],
  [47, 5, 26],
  [6, 27, 48],
  [28, 49, 7],
  [50, 8, 29],
  [9, 30, 51],
  [31, 52, 10],
  [53, 11, 32],
  [12, 33, 54],
  [34, 55, 13],
  [56, 14, 35],
  [15, 36, 57],
  [37, 58, 16],
  [59, 17, 38],
  [18, 39, 60],
  [40, 61, 19],
  [62, 20, 41],
];

/** `len` bytes of `block` repeated. */
function repeatTo(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += block.length) block.copy(out, i, 0, Math.min(block.length, len - i));
  return out;
}

/** One SHA-crypt computation, resumable. */
export class ShaCryptWork {
  private a: Buffer;
  private readonly p: Buffer;
  private readonly s: Buffer;
  private round = 0;
  private output: string | null = null;

  constructor(
    password: Buffer,
    private readonly hash: ShaCryptHash,
  ) {
    const alg = hash.alg;
    const H = (...parts: Buffer[]): Buffer => {
      const h = createHash(alg);
      for (const x of parts) h.update(x);
      return h.digest();
    };
    const pw = password;
    const salt = Buffer.from(hash.salt, 'latin1');
    const b = H(pw, salt, pw);
    const ctx = createHash(alg).update(pw).update(salt).update(repeatTo(b, pw.length));
    for (let n = pw.length; n > 0; n >>>= 1) ctx.update(n & 1 ? b : pw);
    this.a = ctx.digest();
    const dp = createHash(alg);
    for (let i = 0; i < pw.length; i++) dp.update(pw);
    this.p = repeatTo(dp.digest(), pw.length);
    const ds = createHash(alg);
    for (let i = 0; i < 16 + (this.a[0] ?? 0); i++) ds.update(salt);
    this.s = repeatTo(ds.digest(), salt.length);
  }

  /** Runs rounds until done or `deadline` (performance.now() time); true when done. */
  step(deadline: number): boolean {
    const { alg, rounds } = this.hash;
    while (this.round < rounds) {
      const i = this.round++;
      const h = createHash(alg);
      h.update(i & 1 ? this.p : this.a);
      if (i % 3 !== 0) h.update(this.s);
      if (i % 7 !== 0) h.update(this.p);
      h.update(i & 1 ? this.a : this.p);
      this.a = h.digest();
      if ((i & 255) === 255 && performance.now() >= deadline) break;
    }
    if (this.round < rounds) return false;
    this.output ??= this.encode();
    return true;
  }

  /** The computed hash text, once step() returned true. */
  result(): string | null {
    return this.output;
  }

  private encode(): string {
    const a = this.a;
    const byte = (i: number): number => a[i] ?? 0;
    const h = this.hash;
    let out = '';
    for (const [x, y, z] of h.alg === 'sha256' ? ORDER_256 : ORDER_512)
      out += cryptBase64((byte(x) << 16) | (byte(y) << 8) | byte(z), 4);
    out += h.alg === 'sha256' ? cryptBase64((byte(31) << 8) | byte(30), 3) : cryptBase64(byte(63), 2);
    const id = h.alg === 'sha256' ? '5' : '6';
    const rounds = h.explicitRounds ? `rounds=${h.rounds}$` : '';
    return `$${id}$${rounds}${h.salt}$${out}`;
  }
}
