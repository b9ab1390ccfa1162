/**
 * bcrypt (Provos and Mazières, "A Future-Adaptable Password Scheme", 1999), the `$2a$`, `$2b$` and `$2y$` hashes
 * of Apache's `htpasswd -B`, on our own Blowfish: node:crypto offers no Blowfish key schedule (EksBlowfish).
 *
 * The work is resumable: `BcryptWork.step(deadline)` runs key-schedule rounds until the deadline and returns, so
 * a cost-10 check (about a hundred milliseconds of JavaScript) is cut into slices that never hold the event loop
 * for long (docs/ARCHITECTURE.md "Access control").
 */
import { PI_WORDS_HEX } from './blowfish-pi.js';

const ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** bcrypt's base64: the usual bit order with its own alphabet and no padding. */
export function encodeBcrypt64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i] ?? 0;
    const b1 = bytes[i + 1] ?? 0;
    const b2 = bytes[i + 2] ?? 0;
    out += ALPHABET[b0 >> 2] ?? '';
    out += ALPHABET[((b0 & 3) << 4) | (b1 >> 4)] ?? '';
    if (i + 1 >= bytes.length) break;
    out += ALPHABET[((b1 & 15) << 2) | (b2 >> 6)] ?? '';
    if (i + 2 >= bytes.length) break;
    out += ALPHABET[b2 & 63] ?? '';
  }
  return out;
}

/** Decodes `n` bytes from bcrypt base64 text, or null on a character outside the alphabet. */
export function decodeBcrypt64(text: string, n: number): Uint8Array | null {
  const out = new Uint8Array(n);
  let acc = 0;
  let bits = 0;
  let k = 0;
  for (let i = 0; i < text.length && k < n; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? (DECODE[c] ?? -1) : -1;
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[k++] = (acc >> bits) & 0xff;
    }
  }
  return k === n ? out : null;
}

let initial: Uint32Array | null = null;

/** The 1042 words of pi, parsed once. */
export function blowfishInitialState(): Uint32Array {
  if (initial === null) {
    const words = PI_WORDS_HEX.trim().split(/\s+/);
    initial = Uint32Array.from(words, (w) => parseInt(w, 16));
  }
  return initial;
}

/** A parsed bcrypt hash. */
export interface BcryptHash {
  readonly minor: 'a' | 'b' | 'y';
  readonly cost: number;
  readonly salt: Uint8Array;
  /** The whole text, for the final comparison. */
  readonly text: string;
}

/** `$2[aby]$NN$` + 22 salt characters + 31 hash characters, or null. */
export function parseBcrypt(text: string): BcryptHash | null {
  const m = /^\$2([aby])\$(\d\d)\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/.exec(text);
  if (m === null) return null;
  const cost = Number(m[2]);
  const salt = decodeBcrypt64(m[3] ?? '', 16);
  const minor = m[1];
  if (salt === null || cost < 4 || cost > 31 || (minor !== 'a' && minor !== 'b' && minor !== 'y')) return null;
  return { minor, cost, salt, text };
}

/** 18 words of `data` read from its start, cycling (Blowfish's stream2word). */
function cycleWords(data: Uint8Array, count: number): Uint32Array {
  const out = new Uint32Array(count);
  let j = 0;
  for (let i = 0; i < count; i++) {
    let w = 0;
    for (let b = 0; b < 4; b++) {
      w = ((w << 8) | (data[j] ?? 0)) >>> 0;
      j = (j + 1) % data.length;
    }
    out[i] = w;
  }
  return out;
}

/** "OrpheanBeholderScryDoubt", the text bcrypt encrypts 64 times. */
const MAGIC = cycleWords(Buffer.from('OrpheanBeholderScryDoubt', 'latin1'), 6);

/** One bcrypt computation, resumable. */
export class BcryptWork {
  /** P-array (0..17) then S-boxes (18..1041), in one array. */
  private readonly st: Uint32Array;
  private readonly keyWords: Uint32Array;
  private readonly saltWords: Uint32Array;
  private readonly lr = new Uint32Array(2);
  private roundsLeft: number;
  private output: string | null = null;

  constructor(
    password: Uint8Array,
    private readonly hash: BcryptHash,
  ) {
    this.st = Uint32Array.from(blowfishInitialState());
    // The key is the password and its NUL, at most 72 bytes used (what $2b$ fixed: no wrap past 255).
    const len = Math.min(password.length, 72);
    const key = new Uint8Array(len + 1);
    key.set(password.subarray(0, len));
    this.keyWords = cycleWords(key, 18);
    this.saltWords = cycleWords(hash.salt, 4);
    this.eksSetup();
    this.roundsLeft = 2 ** hash.cost;
  }

  /** Runs until done or `deadline` (performance.now() time) passes; true when done. */
  step(deadline: number): boolean {
    while (this.roundsLeft > 0) {
      this.expand0(this.keyWords);
      this.expand0(this.saltWords4());
      this.roundsLeft--;
      if (performance.now() >= deadline) return this.roundsLeft === 0 && this.finish();
    }
    return this.finish();
  }

  /** The computed hash text, once step() returned true. */
  result(): string | null {
    return this.output;
  }

  private salt18: Uint32Array | null = null;
  /** The salt as 18 cycling words, for the plain key expansion. */
  private saltWords4(): Uint32Array {
    this.salt18 ??= cycleWords(this.hash.salt, 18);
    return this.salt18;
  }

  private finish(): boolean {
    if (this.output !== null) return true;
    const c = Uint32Array.from(MAGIC);
    for (let i = 0; i < 64; i++) {
      for (let b = 0; b < 6; b += 2) {
        this.lr[0] = c[b] ?? 0;
        this.lr[1] = c[b + 1] ?? 0;
        this.encrypt();
        c[b] = this.lr[0];
        c[b + 1] = this.lr[1];
      }
    }
    const bytes = new Uint8Array(24);
    for (let i = 0; i < 6; i++) {
      const w = c[i] ?? 0;
      bytes[4 * i] = w >>> 24;
      bytes[4 * i + 1] = (w >>> 16) & 0xff;
      bytes[4 * i + 2] = (w >>> 8) & 0xff;
      bytes[4 * i + 3] = w & 0xff;
    }
    const h = this.hash;
    const cost = String(h.cost).padStart(2, '0');
    this.output = `$2${h.minor}$${cost}$${encodeBcrypt64(h.salt)}${encodeBcrypt64(bytes.subarray(0, 23))}`;
    return true;
  }

  /** Blowfish encryption of lr[0], lr[1] in place (16 rounds). */
  private encrypt(): void {
    const s = this.st;
    let l = this.lr[0] ?? 0;
    let r = this.lr[1] ?? 0;
    l ^= s[0] ?? 0;
    for (let i = 1; i <= 16; i += 2) {
      r ^= f(s, l) ^ (s[i] ?? 0);
      l ^= f(s, r) ^ (s[i + 1] ?? 0);
    }
    this.lr[0] = r ^ (s[17] ?? 0);
    this.lr[1] = l;
  }

  /** EksBlowfishSetup's first expansion: key into P, then P and S re-encrypted with the salt mixed in. */
  private eksSetup(): void {
    const s = this.st;
    for (let i = 0; i < 18; i++) s[i] = ((s[i] ?? 0) ^ (this.keyWords[i] ?? 0)) >>> 0;
    let k = 0;
    this.lr[0] = 0;
    this.lr[1] = 0;
    for (let i = 0; i < 1042; i += 2) {
      this.lr[0] = this.lr[0] ^ (this.saltWords[k & 3] ?? 0);
      this.lr[1] = this.lr[1] ^ (this.saltWords[(k + 1) & 3] ?? 0);
      k += 2;
      this.encrypt();
      s[i] = this.lr[0];
      s[i + 1] = this.lr[1];
    }
  }

  /**
   * Blowfish's plain key expansion with `words` (18 words of the key or salt, cycled). The hot loop of bcrypt:
   * the encryption is inlined over locals, which makes it several times faster than calling encrypt().
   */
  private expand0(words: Uint32Array): void {
    const s = this.st;
    for (let i = 0; i < 18; i++) s[i] = ((s[i] as number) ^ (words[i] as number)) >>> 0;
    let l = 0;
    let r = 0;
    for (let i = 0; i < 1042; i += 2) {
      l ^= s[0] as number;
      for (let k = 1; k <= 16; k += 2) {
        r ^=
          ((((s[18 + (l >>> 24)] as number) + (s[274 + ((l >>> 16) & 0xff)] as number)) ^
            (s[530 + ((l >>> 8) & 0xff)] as number)) +
            (s[786 + (l & 0xff)] as number)) ^
          (s[k] as number);
        l ^=
          ((((s[18 + (r >>> 24)] as number) + (s[274 + ((r >>> 16) & 0xff)] as number)) ^
            (s[530 + ((r >>> 8) & 0xff)] as number)) +
            (s[786 + (r & 0xff)] as number)) ^
          (s[k + 1] as number);
      }
      const t = (r ^ (s[17] as number)) >>> 0;
      r = l >>> 0;
      l = t;
      s[i] = l;
      s[i + 1] = r;
    }
  }
}

/** Blowfish's F: S-box lookups of the four bytes of x. */
function f(s: Uint32Array, x: number): number {
  const a = s[18 + (x >>> 24)] ?? 0;
  const b = s[274 + ((x >>> 16) & 0xff)] ?? 0;
  const c = s[530 + ((x >>> 8) & 0xff)] ?? 0;
  const d = s[786 + (x & 0xff)] ?? 0;
  return ((((a + b) >>> 0) ^ c) + d) >>> 0;
}
