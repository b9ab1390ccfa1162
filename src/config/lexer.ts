/**
 * Lexer for the configuration language (docs/ARCHITECTURE.md "Configuration"): turns the text into words, braces,
 * `;` and end-of-line tokens, each with its 1-based line and column.
 */
import { ConfigError } from './errors.js';
import type { SourcePos } from './types.js';

/** Token kinds: a word (bare or quoted), a brace, `;`, an end of line, or the end of the file. */
export type TokenKind = 'word' | '{' | '}' | ';' | 'eol' | 'eof';

/** One token; `value` is the word's text with quotes and escapes removed (the symbol itself otherwise). */
export interface Token {
  readonly kind: TokenKind;
  readonly value: string;
  /** True for a `"..."` word, so `"{"` stays a word and never opens a block. */
  readonly quoted: boolean;
  readonly pos: SourcePos;
}

/** Tokens (always ending with `eof`) plus the errors met on the way; lexing never stops early. */
export interface LexResult {
  readonly tokens: Token[];
  readonly errors: ConfigError[];
}

const SPACE = new Set([' ', '\t', '\r', '\f', '\v']);
/** Characters that end a bare word. */
const WORD_END = new Set([...SPACE, '\n', '{', '}', ';', '#']);

/** Splits `text` into tokens; `file` is only used to label positions. */
export function tokenize(text: string, file: string): LexResult {
  const tokens: Token[] = [];
  const errors: ConfigError[] = [];
  let i = text.startsWith('\uFEFF') ? 1 : 0; // an editor's byte-order mark is not content
  let line = 1;
  let col = 1;

  const here = (): SourcePos => ({ file, line, col });
  /** Moves past one character and returns it; a tab is one column, so is a surrogate pair. */
  const advance = (): string => {
    const code = text.charCodeAt(i);
    const width = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length ? 2 : 1;
    const consumed = text.slice(i, i + width);
    i += width;
    col += 1;
    return consumed;
  };
  const push = (kind: TokenKind, value: string, pos: SourcePos, quoted = false): void => {
    tokens.push({ kind, value, quoted, pos });
  };

  while (i < text.length) {
    const c = text.charAt(i);
    if (c === '\n') {
      push('eol', '\n', here());
      i += 1;
      line += 1;
      col = 1;
    } else if (SPACE.has(c)) {
      advance();
    } else if (c === '#') {
      // A comment runs to the end of the line; the newline itself still ends the directive.
      while (i < text.length && text[i] !== '\n') advance();
    } else if (c === '{' || c === '}' || c === ';') {
      push(c, c, here());
      advance();
    } else if (c === '"' || c === "'") {
      // Either quote, as in NGINX (log_format is usually written in single quotes around double ones).
      const q = c;
      const start = here();
      advance();
      let value = '';
      let closed = false;
      while (i < text.length && text[i] !== '\n') {
        const d = text.charAt(i);
        if (d === q) {
          closed = true;
          advance();
          break;
        }
        if (d === '\\' && (text[i + 1] === q || text[i + 1] === '\\')) {
          value += text.charAt(i + 1);
          advance();
          advance();
          continue;
        }
        value += advance();
      }
      if (!closed) {
        errors.push(new ConfigError(start, `unterminated quoted string: expected a closing ${q} on the same line`));
      } else if (i < text.length && !WORD_END.has(text.charAt(i))) {
        errors.push(new ConfigError(here(), 'expected a space after the closing quote'));
      }
      push('word', value, start, true);
    } else {
      const start = here();
      const from = i;
      while (i < text.length && !WORD_END.has(text.charAt(i))) {
        if (text[i] === '"') {
          errors.push(new ConfigError(here(), 'unexpected " inside a word: quote the whole value instead'));
        }
        advance();
      }
      push('word', text.slice(from, i), start);
    }
  }
  push('eof', '', here());
  return { tokens, errors };
}
