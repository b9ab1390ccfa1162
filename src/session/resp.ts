/**
 * RESP2, the Redis protocol (https://redis.io/docs/reference/protocol-spec/): commands encoded as arrays of bulk
 * strings, and an incremental reply parser that takes bytes as they arrive, in any split. Pure; the client is in
 * redis-client.ts.
 */

/** One reply: simple string, error, integer, bulk string (null for nil), or array (null for a nil array). */
export type RespValue = string | RespError | number | Buffer | null | RespValue[];

/** An error reply ("-ERR ..."): a value, not a thrown exception. */
export class RespError {
  constructor(readonly message: string) {}
}

/** Encodes one command: `*N\r\n` then `$LEN\r\nARG\r\n` per argument. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Largest bulk string or array accepted from the server (a corrupt length must not make us buffer forever). */
const MAX_LENGTH = 64 * 1024 * 1024;

/** Parses replies from a byte stream. `push` bytes, then `next()` until it returns undefined (more bytes needed). */
export class RespParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** The next complete reply; undefined when incomplete; throws on a protocol violation (the caller drops the
   *  connection: nothing after it can be trusted). */
  next(): RespValue | undefined {
    const r = this.parse(0);
    if (r === undefined) return undefined;
    this.buf = this.buf.subarray(r.end);
    return r.value;
  }

  private line(at: number): { text: string; end: number } | undefined {
    const cr = this.buf.indexOf('\r\n', at);
    if (cr < 0) return undefined;
    return { text: this.buf.toString('utf8', at + 1, cr), end: cr + 2 };
  }

  private parse(at: number): { value: RespValue; end: number } | undefined {
    if (at >= this.buf.length) return undefined;
    const type = this.buf[at] ?? 0;
    const l = this.line(at);
    if (l === undefined) return undefined;
    switch (type) {
      case 0x2b: // +
        return { value: l.text, end: l.end };
      case 0x2d: // -
        return { value: new RespError(l.text), end: l.end };
      case 0x3a: // :
        return { value: integer(l.text), end: l.end };
      case 0x24: {
        // $
        const n = integer(l.text);
        if (n === -1) return { value: null, end: l.end };
        if (n < 0 || n > MAX_LENGTH) throw new Error(`bad bulk length ${l.text}`);
        if (this.buf.length < l.end + n + 2) return undefined;
        if (this.buf[l.end + n] !== 0x0d || this.buf[l.end + n + 1] !== 0x0a) throw new Error('bulk without CRLF');
        return { value: Buffer.from(this.buf.subarray(l.end, l.end + n)), end: l.end + n + 2 };
      }
      case 0x2a: {
        // *
        const n = integer(l.text);
        if (n === -1) return { value: null, end: l.end };
        if (n < 0 || n > MAX_LENGTH) throw new Error(`bad array length ${l.text}`);
        const items: RespValue[] = [];
        let end = l.end;
        for (let i = 0; i < n; i++) {
          const item = this.parse(end);
          if (item === undefined) return undefined;
          items.push(item.value);
          end = item.end;
        }
        return { value: items, end };
      }
      default:
        throw new Error(`unknown reply type ${String(type)}`);
    }
  }
}

function integer(text: string): number {
  if (!/^-?\d{1,16}$/.test(text)) throw new Error(`bad integer ${text}`);
  return Number(text);
}
