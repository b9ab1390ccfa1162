/**
 * Public entry points of the configuration module (docs/ARCHITECTURE.md "Configuration"): read, parse and validate a file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from './errors.js';
import { expandIncludes } from './include.js';
import { parse, sortErrors } from './parser.js';
import type { Config } from './types.js';
import { validate, type ValidateOptions } from './validate.js';

/**
 * A configuration that can run, with the errors of the server blocks it skipped (empty when all is well); or,
 * when nothing can run, every error found. Errors come in source order (the first is the most useful).
 */
/** How the command line shapes a load: `--strict`, and `-g` directives added at top level. */
export interface LoadOptions extends ValidateOptions {
  /** `-g 'directives;'`: top-level directives appended to the file's, reported as `(-g):LINE:COL`. */
  readonly globals?: string;
}

export type ConfigResult = (
  { ok: true; config: Config; errors: ConfigError[] } | { ok: false; errors: ConfigError[] }
) & {
  /** Directives accepted and ignored (`events { }`), printed as notices. */
  readonly notices?: readonly ConfigError[];
};

/** Larger than any sane config; keeps a wrong argument (a disk image, /dev/zero) from being slurped. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Reads `file` synchronously (resolved against the working directory), then parses and validates it. */
export function loadConfig(file: string, opts: LoadOptions = {}): ConfigResult {
  const abs = path.resolve(file);
  const unreadable = (detail: string): ConfigResult => ({
    ok: false,
    errors: [new ConfigError({ file: abs, line: 1, col: 1 }, detail)],
  });
  let text: string;
  try {
    const stat = fs.statSync(abs);
    if (!stat.isFile()) return unreadable('cannot read config file: not a regular file');
    if (stat.size > MAX_CONFIG_BYTES) return unreadable('cannot read config file: larger than 1 MiB');
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    return unreadable(`cannot read config file: ${shortReason(err)}`);
  }
  return parseConfigText(text, abs, opts);
}

/**
 * Parses and validates `text`; `file` is absolute and relative paths resolve against its directory. A syntax
 * error (unbalanced braces, a stray token) means the file cannot be understood at all: nothing runs.
 */
export function parseConfigText(text: string, file: string, opts: LoadOptions = {}): ConfigResult {
  const parsed = parse(text, file);
  // nginx's -g: directives as if written at the end of the file's top level (so a repeat is a duplicate).
  const globals = opts.globals === undefined ? { directives: [], errors: [] } : parse(opts.globals, GLOBALS_FILE);
  const syntax = [...parsed.errors, ...globals.errors];
  const directives = expandIncludes(parsed.directives, syntax); // included files' own errors are fatal too
  const checked = validate([...directives, ...globals.directives], file, opts);
  const errors = sortErrors([...syntax, ...checked.errors]);
  const notices = checked.notices ?? [];
  if (syntax.length > 0 || checked.config === null) return { ok: false, errors, notices };
  return { ok: true, config: checked.config, errors, notices };
}

/** The "file" of directives given with -g, in error messages. */
export const GLOBALS_FILE = '(-g)';

/** Drops the path from Node's message ("ENOENT: ..., open '/x'"): the error's prefix names the file. */
function shortReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/, \w+ '.*'$/s, '');
}
