/**
 * Addresses and CIDR blocks for `allow` / `deny` (docs/ARCHITECTURE.md "Access control"): parsing and matching,
 * pure. IPv4 is a 32-bit number, IPv6 16 bytes; an IPv4-mapped IPv6 client (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2)
 * is judged by the IPv4 rules when there are any, as nginx's ngx_http_access_module does.
 */
import { err, ok, type Result } from '../lib/result.js';

/** One parsed address. */
export type Address = { readonly family: 4; readonly v4: number } | { readonly family: 6; readonly v6: Uint8Array };

/** An address block: `all`, or a network and its prefix length. */
export type Block =
  | { readonly family: 'all' }
  | { readonly family: 4; readonly net: number; readonly mask: number }
  | { readonly family: 6; readonly net: Uint8Array; readonly bits: number };

/** Dotted-quad IPv4 (four decimal octets, no leading zeros beyond "0"), as a 32-bit unsigned number. */
export function parseIPv4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/** IPv6 text (RFC 4291 §2.2, with "::" and a trailing dotted quad) as 16 bytes; zone ids are refused. */
export function parseIPv6(s: string): Uint8Array | null {
  if (s.includes('%') || s.length > 45) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (text: string): number[] | null => {
    if (text === '') return [];
    const out: number[] = [];
    const parts = text.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] ?? '';
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-f]{1,4}$/i.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  // An IPv4 tail is only valid at the very end.
  if (halves.length === 2 && (halves[0] ?? '').includes('.')) return null;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >>> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** An address in either family. */
export function parseAddress(s: string): Address | null {
  const v4 = parseIPv4(s);
  if (v4 !== null) return { family: 4, v4 };
  const v6 = parseIPv6(s);
  return v6 === null ? null : { family: 6, v6 };
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), else null. */
export function mappedIPv4(v6: Uint8Array): number | null {
  for (let i = 0; i < 10; i++) if (v6[i] !== 0) return null;
  if (v6[10] !== 0xff || v6[11] !== 0xff) return null;
  return (((v6[12] ?? 0) << 24) | ((v6[13] ?? 0) << 16) | ((v6[14] ?? 0) << 8) | (v6[15] ?? 0)) >>> 0;
}

/**
 * `ADDR`, `ADDR/BITS` or `all`. Host bits beyond the prefix are cleared (nginx accepts them with a warning that
 * they are meaningless); a bare address is a block of one.
 */
export function parseBlock(s: string): Result<Block, string> {
  if (s === 'all') return ok({ family: 'all' });
  const slash = s.indexOf('/');
  const text = slash === -1 ? s : s.slice(0, slash);
  const bitsText = slash === -1 ? null : s.slice(slash + 1);
  const addr = parseAddress(text);
  if (addr === null) return err(`bad address "${s}": expected an IPv4 or IPv6 address, a CIDR block or "all"`);
  const max = addr.family === 4 ? 32 : 128;
  const bits = bitsText === null ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!(bits >= 0 && bits <= max)) return err(`bad prefix length in "${s}": expected /0 to /${max}`);
  if (addr.family === 4) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return ok({ family: 4, net: (addr.v4 & mask) >>> 0, mask });
  }
  const net = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    net[i] = (addr.v6[i] ?? 0) & ((0xff00 >> keep) & 0xff);
  }
  return ok({ family: 6, net, bits });
}

/** Whether `block` holds `addr` (blocks of the other family never do; `all` always does). */
export function blockHolds(block: Block, addr: Address): boolean {
  if (block.family === 'all') return true;
  if (block.family === 4) return addr.family === 4 && (addr.v4 & block.mask) >>> 0 === block.net;
  if (addr.family !== 6) return false;
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, block.bits - 8 * i));
    if (keep === 0) break;
    const m = (0xff00 >> keep) & 0xff;
    if (((addr.v6[i] ?? 0) & m) !== (block.net[i] ?? 0)) return false;
  }
  return true;
}

/** One `allow` or `deny` line. */
export interface AccessRule {
  readonly allow: boolean;
  readonly block: Block;
}

/**
 * The verdict of an ordered rule list for a client address: the first rule that holds it decides; none → 'none'
 * (nginx lets such a request through). An IPv4-mapped client is judged as IPv4 when the list has IPv4 rules,
 * otherwise as IPv6. An address that cannot be parsed is matched by `all` only.
 */
export function judge(rules: readonly AccessRule[], clientText: string): 'allow' | 'deny' | 'none' {
  if (rules.length === 0) return 'none';
  let addr = parseAddress(clientText);
  if (addr?.family === 6) {
    const v4 = mappedIPv4(addr.v6);
    if (v4 !== null && rules.some((r) => r.block.family === 4)) addr = { family: 4, v4 };
  }
  for (const r of rules) {
    if (addr === null ? r.block.family === 'all' : blockHolds(r.block, addr)) return r.allow ? 'allow' : 'deny';
  }
  return 'none';
}
