/**
 * Zero-config mode (README "Serve a folder"): the command line's folder flags become configuration text, which
 * goes through the same parser and validator as a file (so `-T` prints it and every check applies). The
 * defaults are the safe ones: read-only, no listing, dotfiles hidden.
 */
import * as path from 'node:path';
import { err, ok, type Result } from '../lib/result.js';
import { ZERO_CONFIG_PORT, type ZeroConfigFlags } from './args.js';

/** The generated configuration, and where it pretends to live (relative paths resolve against its directory). */
export interface ZeroConfig {
  readonly text: string;
  /** `DIR/(command line)`: the name its errors carry. */
  readonly file: string;
  /** The absolute directory served. */
  readonly root: string;
}

/** The address zero-config mode binds by default: loopback, so a folder is not served to the network unasked. */
export const ZERO_CONFIG_ADDRESS = '127.0.0.1';

/** One configuration word, quoted when it must be (the lexer takes `\"` and `\\` inside quotes). */
function word(v: string): Result<string, string> {
  if (/[\r\n]/.test(v)) return err(`${JSON.stringify(v)}: a line break cannot be written in a configuration`);
  if (/^[^\s"'{};#\\]+$/.test(v)) return ok(v);
  return ok(`"${v.replace(/["\\]/g, (c) => '\\' + c)}"`);
}

/** Builds the configuration text for `flags`; `cwd` resolves a relative DIR. */
export function zeroConfig(flags: ZeroConfigFlags, cwd: string): Result<ZeroConfig, string> {
  const root = path.resolve(cwd, flags.dir);
  const address = flags.address ?? ZERO_CONFIG_ADDRESS;
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  const words = [word(root), word(`${host}:${flags.port ?? ZERO_CONFIG_PORT}`)];
  const [r, listen] = words.map((w) => (w.ok ? w.value : ''));
  for (const w of words) if (!w.ok) return w;
  const lines = ['# localhost zero-config mode', 'server {', `  listen ${listen ?? ''}`];
  lines.push('  location / {', `    root ${r ?? ''}`, '    default_file index.html');
  // A single-page app's deep links get the app, with status 200 (nginx's idiom).
  if (flags.spa) lines.push('    try_files $uri $uri/ /index.html');
  if (flags.listing) lines.push('    directory_listing on');
  if (flags.upload) lines.push('    methods GET POST DELETE');
  for (const [ext, interpreter] of flags.cgi) {
    const i = word(interpreter);
    if (!i.ok) return i;
    lines.push(`    cgi ${ext} ${i.value}`);
  }
  lines.push('  }', '}', '');
  return ok({ text: lines.join('\n'), file: path.join(cwd, '(command line)'), root });
}
