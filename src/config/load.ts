/**
 * Public entry points of the configuration module (DESIGN §3): read, parse and validate a file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from './errors.js';
import { parse, sortErrors } from './parser.js';
import type { Config } from './types.js';
import { validate } from './validate.js';

/** A checked configuration, or every error found, in source order (the first is the most useful). */
export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: ConfigError[] };

/** Larger than any sane config; keeps a wrong argument (a disk image, /dev/zero) from being slurped. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Reads `file` synchronously (resolved against the working directory), then parses and validates it. */
export function loadConfig(file: string): ConfigResult {
  const abs = path.resolve(file);
  const fail = (detail: string): ConfigResult => ({
    ok: false,
    errors: [new ConfigError({ file: abs, line: 1, col: 1 }, detail)],
  });
  let text: string;
  try {
    const stat = fs.statSync(abs);
    if (!stat.isFile()) return fail('cannot read config file: not a regular file');
    if (stat.size > MAX_CONFIG_BYTES) return fail('cannot read config file: larger than 1 MiB');
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    return fail(`cannot read config file: ${shortReason(err)}`);
  }
  return parseConfigText(text, abs);
}

/** Parses and validates `text`; `file` is absolute and relative paths resolve against its directory. */
export function parseConfigText(text: string, file: string): ConfigResult {
  const parsed = parse(text, file);
  const checked = validate(parsed.directives, file);
  const errors = sortErrors([...parsed.errors, ...checked.errors]);
  if (errors.length > 0 || checked.config === null) return { ok: false, errors };
  return { ok: true, config: checked.config };
}

/** Drops the path from Node's message ("ENOENT: ..., open '/x'"): the error's prefix names the file. */
function shortReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/, \w+ '.*'$/s, '');
}
