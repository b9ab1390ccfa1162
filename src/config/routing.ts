/**
 * The validator's part for nginx's routing directives (issue 17): location modifiers, `rewrite`, `return`,
 * `try_files`, `error_page ... URI`, `add_header` and `expires`. Each apply function checks one directive node
 * (arity already checked by the walker) and fills the draft, reporting errors at FILE:LINE:COL.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from './errors.js';
import type { ArgNode, DirectiveNode } from './parser.js';
import type {
  AddHeader,
  ErrorRedirect,
  Expires,
  LocationMatch,
  RewriteOp,
  Template,
  TryFiles,
} from './routing-types.js';
import type { SourcePos } from './types.js';
import { compileTemplate } from '../router/variables.js';

/** Where errors go and relative paths start. */
export interface RoutingCtx {
  readonly dir: string;
  readonly errors: ConfigError[];
}

/** What a server or location block holds of the rewrite and header directives. */
export interface RoutingDraft {
  ops: RewriteOp[];
  addHeaders: AddHeader[] | null;
  expires: Expires | null;
}

/** A location's part of the draft: its match and try_files too. */
export interface LocationRoutingDraft extends RoutingDraft {
  tryFiles: TryFiles | null;
}

const report = (ctx: RoutingCtx, pos: SourcePos, detail: string): void => {
  ctx.errors.push(new ConfigError(pos, detail));
};

const shift = (pos: SourcePos, by: number): SourcePos => ({ ...pos, col: pos.col + by });

/** Compiles an argument's text with variables; an unknown variable is reported at its own column. */
function template(arg: ArgNode, ctx: RoutingCtx, allowStatus = false): Template | null {
  const t = compileTemplate(arg.value, allowStatus);
  if (t.ok) return t.value;
  report(ctx, shift(arg.pos, t.error.offset + (arg.quoted === true ? 1 : 0)), t.error.message);
  return null;
}

/**
 * A PCRE pattern as nginx takes it, as a JavaScript RegExp. The two agree on what configurations use (classes,
 * groups, anchors, quantifiers); `(?P<name>` becomes `(?<name>`. A pattern that does not compile is an error
 * at the argument.
 */
export function compileRegex(arg: ArgNode, ctx: RoutingCtx, caseless: boolean): RegExp | null {
  const source = arg.value.replaceAll('(?P<', '(?<');
  try {
    return new RegExp(source, caseless ? 'i' : '');
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^Invalid regular expression: /, '') : String(e);
    report(ctx, arg.pos, `bad regular expression "${arg.value}": ${why}`);
    return null;
  }
}

/** The head of `location [=|^~|~|~*] PATH`: how it matches, its path, and the prefix its root replaces. */
export interface LocationHead {
  readonly path: string;
  readonly match: LocationMatch;
  readonly mapPrefix: string;
  /** The argument holding the path, for messages. */
  readonly pathArg: ArgNode;
}

const MODIFIERS = ['=', '^~', '~', '~*'];

/** Parses the arguments of `location`; null (with the error reported) when they are wrong. */
export function parseLocationHead(node: DirectiveNode, ctx: RoutingCtx): LocationHead | null {
  const [first, second] = node.args;
  if (first === undefined) return null;
  let modifier = '';
  let pathArg = first;
  if (second !== undefined) {
    if (!MODIFIERS.includes(first.value)) {
      report(ctx, first.pos, `bad location modifier "${first.value}": expected =, ^~, ~ or ~*`);
      return null;
    }
    modifier = first.value;
    pathArg = second;
  } else if (first.value.length > 1 && /^(=|\^~|~\*?)(?=[^~*])/.test(first.value) && !first.value.startsWith('/')) {
    // nginx also reads "=/x" and "~\.php$" written without a space.
    const m = /^(=|\^~|~\*?)/.exec(first.value);
    modifier = m?.[1] ?? '';
    pathArg = { value: first.value.slice(modifier.length), pos: shift(first.pos, modifier.length) };
  }
  const v = pathArg.value;
  if (modifier === '~' || modifier === '~*') {
    const regex = compileRegex(pathArg, ctx, modifier === '~*');
    if (regex === null) return null;
    return { path: v, match: { kind: 'regex', regex }, mapPrefix: '', pathArg };
  }
  if (!v.startsWith('/')) {
    report(ctx, pathArg.pos, `bad location path "${v}": expected a path starting with "/"`);
    return null;
  }
  if (modifier === '=') return { path: v, match: { kind: 'exact' }, mapPrefix: '', pathArg };
  if (modifier === '^~') return { path: v, match: { kind: 'stop' }, mapPrefix: v.replace(/\/+$/, ''), pathArg };
  const trimmed = v.replace(/\/+$/, '');
  const p = trimmed === '' ? '/' : trimmed;
  return { path: p, match: { kind: 'prefix' }, mapPrefix: p, pathArg };
}

/** True when a text is an absolute URL (or starts with $scheme), which makes `return`/`rewrite` a redirect. */
const isUrl = (v: string): boolean => /^(https?:\/\/|\$scheme)/i.test(v);

/** `return CODE [TEXT|URL]` or `return URL` (302). */
export function applyReturn(d: RoutingDraft, node: DirectiveNode, ctx: RoutingCtx): void {
  const [a, b] = node.args;
  if (a === undefined) return;
  if (b === undefined && isUrl(a.value)) {
    const t = template(a, ctx);
    if (t !== null) d.ops.push({ kind: 'return', code: 302, text: t });
    return;
  }
  const code = /^\d{3}$/.test(a.value) ? Number(a.value) : NaN;
  if (!(code >= 200 && code <= 599)) {
    const hint = a.value === '444' ? ' (444, closing without an answer, is not supported)' : '';
    report(ctx, a.pos, `bad return code "${a.value}": expected a status from 200 to 599, or a URL${hint}`);
    return;
  }
  const t = b === undefined ? null : template(b, ctx);
  if (b !== undefined && t === null) return;
  d.ops.push({ kind: 'return', code, text: t });
}

const FLAGS = ['last', 'break', 'redirect', 'permanent'] as const;

/** `rewrite REGEX REPLACEMENT [last|break|redirect|permanent]`. */
export function applyRewrite(d: RoutingDraft, node: DirectiveNode, ctx: RoutingCtx): void {
  const [re, repl, flagArg] = node.args;
  if (re === undefined || repl === undefined) return;
  const flag = flagArg === undefined ? null : (FLAGS.find((f) => f === flagArg.value) ?? undefined);
  if (flagArg !== undefined && flag === undefined) {
    report(ctx, flagArg.pos, `bad rewrite flag "${flagArg.value}": expected last, break, redirect or permanent`);
    return;
  }
  const regex = compileRegex(re, ctx, false);
  const replacement = template(repl, ctx);
  if (regex === null || replacement === null || flag === undefined) return;
  d.ops.push({ kind: 'rewrite', regex, replacement, flag });
}

/** `try_files A B ... (URI | =CODE)`. */
export function applyTryFiles(d: LocationRoutingDraft, node: DirectiveNode, ctx: RoutingCtx): void {
  const last = node.args.at(-1);
  if (last === undefined) return;
  const candidates: Template[] = [];
  let bad = false;
  for (const a of node.args.slice(0, -1)) {
    const t = template(a, ctx);
    if (t === null) bad = true;
    else candidates.push(t);
  }
  let fallback: TryFiles['fallback'];
  if (last.value.startsWith('=')) {
    const code = /^=\d{3}$/.test(last.value) ? Number(last.value.slice(1)) : NaN;
    if (!(code >= 200 && code <= 599)) {
      report(ctx, last.pos, `bad try_files status "${last.value}": expected =CODE with a status from 200 to 599`);
      return;
    }
    fallback = { kind: 'code', code };
  } else {
    if (!last.value.startsWith('/') && !last.value.startsWith('$') && !last.value.startsWith('@')) {
      report(ctx, last.pos, `bad try_files fallback "${last.value}": expected a URI starting with "/" or =CODE`);
      return;
    }
    if (last.value.startsWith('@')) {
      report(ctx, last.pos, `named locations ("${last.value}") are not supported: give a URI starting with "/"`);
      return;
    }
    const t = template(last, ctx);
    if (t === null) return;
    fallback = { kind: 'uri', uri: t };
  }
  if (!bad) d.tryFiles = { candidates, fallback };
}

/** Header names we never let `add_header` set: the writer owns the framing (RFC 9112 §6). */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'date', 'server']);

/** `add_header NAME VALUE [always]`. */
export function applyAddHeader(d: RoutingDraft, node: DirectiveNode, ctx: RoutingCtx): void {
  const [name, value, always] = node.args;
  if (name === undefined || value === undefined) return;
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name.value)) {
    report(ctx, name.pos, `bad add_header name "${name.value}": expected a header field name (RFC 9110 §5.1)`);
    return;
  }
  if (FRAMING.has(name.value.toLowerCase())) {
    report(ctx, name.pos, `add_header cannot set "${name.value}": the server writes it itself`);
    return;
  }
  if (always !== undefined && always.value !== 'always') {
    report(ctx, always.pos, `bad add_header parameter "${always.value}": expected always`);
    return;
  }
  const t = template(value, ctx, true);
  if (t === null) return;
  (d.addHeaders ??= []).push({ name: name.value, value: t, always: always !== undefined });
}

const TIME_UNITS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
  M: 2592000,
  y: 31536000,
};

/** `expires TIME|epoch|max|off`; TIME as nginx writes it (`30d`, `1h30m`, `-1`, a bare number of seconds). */
export function applyExpires(d: RoutingDraft, node: DirectiveNode, ctx: RoutingCtx): void {
  const a = node.args[0];
  if (a === undefined) return;
  const v = a.value;
  if (v === 'off' || v === 'epoch' || v === 'max') {
    d.expires = { kind: v };
    return;
  }
  const m = /^(-?)((?:\d+(?:ms|[smhdwMy])?)+)$/.exec(v);
  let seconds = NaN;
  if (m !== null) {
    seconds = 0;
    for (const [, n, unit] of (m[2] ?? '').matchAll(/(\d+)(ms|[smhdwMy])?/g)) {
      seconds += unit === 'ms' ? Number(n) / 1000 : Number(n) * (TIME_UNITS[unit ?? 's'] ?? NaN);
    }
    seconds = Math.floor(seconds) * (m[1] === '-' ? -1 : 1);
  }
  if (!Number.isSafeInteger(seconds)) {
    report(ctx, a.pos, `bad expires "${v}": expected a time such as 1h or 30d, or epoch, max or off`);
    return;
  }
  d.expires = { kind: 'time', seconds };
}

/**
 * Whether `error_page`'s last argument is nginx's URI form (an internal redirect) rather than the seed's file:
 * a `=` argument, an absolute URL, or a path starting with "/" that is not an existing file.
 */
export function isErrorPageUri(node: DirectiveNode, dir: string): boolean {
  const last = node.args.at(-1);
  if (last === undefined) return false;
  if (node.args.some((a) => a.value.startsWith('=')) || isUrl(last.value)) return true;
  if (!last.value.startsWith('/')) return false;
  return fs.statSync(path.resolve(dir, last.value), { throwIfNoEntry: false })?.isFile() !== true;
}

/** `error_page CODE... [=[CODE]] URI`: fills `into` with status → redirect. */
export function applyErrorRedirect(into: Map<number, ErrorRedirect>, node: DirectiveNode, ctx: RoutingCtx): void {
  const last = node.args.at(-1);
  if (last === undefined) return;
  let status: ErrorRedirect['status'] = null;
  const codes: number[] = [];
  for (const a of node.args.slice(0, -1)) {
    if (a.value.startsWith('=')) {
      const n = a.value === '=' ? 0 : /^=\d{3}$/.test(a.value) ? Number(a.value.slice(1)) : NaN;
      if (n === 0) status = 'target';
      else if (n >= 200 && n <= 599) status = n;
      else {
        report(ctx, a.pos, `bad error_page answer "${a.value}": expected = or =CODE (200 to 599)`);
        return;
      }
      continue;
    }
    const code = /^\d{3}$/.test(a.value) ? Number(a.value) : NaN;
    if (code >= 300 && code <= 599) codes.push(code);
    else report(ctx, a.pos, `bad error_page code "${a.value}": expected a status from 300 to 599`);
  }
  if (codes.length === 0) {
    report(ctx, last.pos, 'error_page needs at least one status code before the URI');
    return;
  }
  if (!isUrl(last.value) && !last.value.startsWith('/')) {
    report(ctx, last.pos, `bad error_page URI "${last.value}": expected a path starting with "/" or a URL`);
    return;
  }
  for (const c of codes) into.set(c, { uri: last.value, status });
}
