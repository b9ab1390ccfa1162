/**
 * Recursive-descent parser for the configuration language (docs/ARCHITECTURE.md "Configuration"): tokens → an untyped
 * tree of directives with positions. It knows nothing about which directives exist; that is
 * validate.ts's job.
 */
import { ConfigError } from './errors.js';
import { tokenize, type Token } from './lexer.js';
import type { SourcePos } from './types.js';

/** One argument of a directive, as written (quotes removed). */
export interface ArgNode {
  readonly value: string;
  readonly pos: SourcePos;
  /** Written in quotes: the value starts one column after `pos`. */
  readonly quoted?: boolean;
}

/** A `{ ... }` body; `close` is null when the file ended before its `}`. */
export interface BlockNode {
  readonly open: SourcePos;
  readonly directives: readonly DirectiveNode[];
  readonly close: SourcePos | null;
}

/** `name arg... [{ ... }]`; `pos` is the name's position. */
export interface DirectiveNode {
  readonly name: string;
  readonly pos: SourcePos;
  readonly args: readonly ArgNode[];
  readonly block: BlockNode | null;
}

/** The top-level directives plus every syntax error found; parsing recovers and goes on. */
export interface ParseResult {
  readonly directives: readonly DirectiveNode[];
  readonly errors: ConfigError[];
}

const at = (pos: SourcePos): string => `${pos.line}:${pos.col}`;

/** Parses a token list (which must end with `eof`, as tokenize's does). */
export function parseTokens(tokens: readonly Token[]): ParseResult {
  const errors: ConfigError[] = [];
  let i = 0;
  let depth = 0;
  /** What the end of file left open, and a likely culprit (written to from nested calls). */
  const state: {
    /** The deepest block the file ended inside. */
    innermost: { owner: string | null; open: SourcePos } | null;
    /** The outermost block the file ended inside. */
    outermost: SourcePos | null;
    /** First block closed by a `}` less indented than its directive: likely missing its own `}`. */
    suspect: { owner: string; pos: SourcePos } | null;
  } = { innermost: null, outermost: null, suspect: null };

  // tokenize() always ends the list with an eof token; the fallback only satisfies the type.
  const last: Token = tokens.at(-1) ?? { kind: 'eof', value: '', quoted: false, pos: { file: '', line: 1, col: 1 } };
  const peek = (): Token => tokens[Math.min(i, tokens.length - 1)] ?? last;
  const next = (): Token => {
    const t = peek();
    if (i < tokens.length - 1) i += 1;
    return t;
  };

  /** Parses directives until `}` (left for the caller) or end of file. */
  const parseBody = (): DirectiveNode[] => {
    const directives: DirectiveNode[] = [];
    for (;;) {
      const t = peek();
      switch (t.kind) {
        case 'eof':
          return directives;
        case 'eol':
          next();
          break;
        case '}':
          if (depth > 0) return directives;
          errors.push(new ConfigError(t.pos, 'unexpected "}": there is no open block to close'));
          next();
          break;
        case ';':
          errors.push(new ConfigError(t.pos, 'unexpected ";": there is no directive to end'));
          next();
          break;
        case '{':
          errors.push(new ConfigError(t.pos, 'unexpected "{": a block must follow a directive, as in "server {"'));
          parseBlock(null, t.pos); // keep the braces balanced; the contents are dropped
          break;
        case 'word':
          directives.push(parseDirective());
          break;
      }
    }
  };

  /** Parses `{ body }` starting at the `{`. */
  const parseBlock = (owner: string | null, ownerPos: SourcePos): BlockNode => {
    const openTok = next();
    depth += 1;
    const directives = parseBody();
    depth -= 1;
    if (peek().kind !== '}') {
      state.innermost ??= { owner, open: openTok.pos }; // the deepest block returns first
      state.outermost = openTok.pos;
      return { open: openTok.pos, directives, close: null };
    }
    const close = next().pos;
    if (owner !== null && state.suspect === null && close.line !== ownerPos.line && close.col < ownerPos.col) {
      state.suspect = { owner, pos: ownerPos };
    }
    return { open: openTok.pos, directives, close };
  };

  /** Parses `name arg...` and its terminator: end of line, `;`, `{ block }`, or (not consumed) `}`/eof. */
  const parseDirective = (): DirectiveNode => {
    const name = next();
    const args: ArgNode[] = [];
    while (peek().kind === 'word') {
      const t = next();
      args.push(t.quoted ? { value: t.value, pos: t.pos, quoted: true } : { value: t.value, pos: t.pos });
    }
    let block: BlockNode | null = null;
    const t = peek();
    if (t.kind === ';') {
      next();
    } else if (t.kind === '{') {
      block = parseBlock(name.value, name.pos);
    } else if (t.kind === 'eol') {
      // Allow the `{` on the following line (`server` ⏎ `{`), a common brace style.
      let j = i;
      while (tokens[j]?.kind === 'eol') j += 1;
      if (tokens[j]?.kind === '{') {
        i = j;
        block = parseBlock(name.value, name.pos);
      }
    }
    return { name: name.value, pos: name.pos, args, block };
  };

  const directives = parseBody();
  const { innermost, outermost, suspect } = state;
  if (innermost !== null && outermost !== null) {
    const what = innermost.owner === null ? 'the block' : `the ${innermost.owner} block`;
    let detail = `unexpected end of file: expected "}" to close ${what} opened at ${at(innermost.open)}`;
    if (suspect !== null && after(suspect.pos, outermost)) {
      detail += ` (the ${suspect.owner} at ${at(suspect.pos)} may be the one missing its "}")`;
    }
    errors.push(new ConfigError(peek().pos, detail));
  }
  return { directives, errors };
}

/** Lexes and parses `text`; errors of both stages come back in source order. */
export function parse(text: string, file: string): ParseResult {
  const lexed = tokenize(text, file);
  const parsed = parseTokens(lexed.tokens);
  return { directives: parsed.directives, errors: sortErrors([...lexed.errors, ...parsed.errors]) };
}

/** Stable sort of errors by line, then column. */
export function sortErrors(errors: readonly ConfigError[]): ConfigError[] {
  return [...errors].sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col);
}

function after(a: SourcePos, b: SourcePos): boolean {
  return a.line > b.line || (a.line === b.line && a.col > b.col);
}
