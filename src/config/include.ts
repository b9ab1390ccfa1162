/**
 * `include FILE|GLOB` (nginx's): replaces the directive with the directives of the files it names, read and
 * parsed at load time. A relative path is relative to the including file; a glob (`*`, `?`, `[...]` in the last
 * component) takes its matches in sorted order, and may match nothing; a plain name must exist. Positions keep
 * the included file's name, so its errors point into it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from './errors.js';
import { parse, type DirectiveNode } from './parser.js';

/** Includes may nest this deep (a file that includes itself stops here). */
const MAX_DEPTH = 10;
/** Largest included file, as for the main file. */
const MAX_BYTES = 1024 * 1024;

/** The directives with every `include` replaced, and the errors met (syntax errors of included files too). */
export function expandIncludes(
  directives: readonly DirectiveNode[],
  errors: ConfigError[],
  depth = 0,
): DirectiveNode[] {
  const out: DirectiveNode[] = [];
  for (const d of directives) {
    if (d.name !== 'include') {
      if (d.block === null) out.push(d);
      else out.push({ ...d, block: { ...d.block, directives: expandIncludes(d.block.directives, errors, depth) } });
      continue;
    }
    const arg = d.args[0];
    if (d.args.length !== 1 || arg === undefined || d.block !== null) {
      errors.push(new ConfigError(d.pos, '"include" takes 1 argument (include FILE|GLOB)'));
      continue;
    }
    if (depth >= MAX_DEPTH) {
      errors.push(new ConfigError(arg.pos, `include nested more than ${MAX_DEPTH} deep (does a file include itself?)`));
      continue;
    }
    const pattern = path.resolve(path.dirname(d.pos.file), arg.value);
    const files = matches(pattern);
    if (typeof files === 'string') {
      errors.push(new ConfigError(arg.pos, `include "${arg.value}": ${files}`));
      continue;
    }
    for (const file of files) {
      let text: string;
      try {
        const st = fs.statSync(file);
        if (!st.isFile()) throw new Error('not a regular file');
        if (st.size > MAX_BYTES) throw new Error('larger than 1 MiB');
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        const why = e instanceof Error ? e.message.replace(/, \w+ '.*'$/s, '') : String(e);
        errors.push(new ConfigError(arg.pos, `include "${arg.value}": cannot read ${file}: ${why}`));
        continue;
      }
      const parsed = parse(text, file);
      errors.push(...parsed.errors);
      out.push(...expandIncludes(parsed.directives, errors, depth + 1));
    }
  }
  return out;
}

const GLOB = /[*?[]/;

/** The files a pattern names, sorted; or why there are none when it is a plain name. */
function matches(pattern: string): string[] | string {
  if (!GLOB.test(pattern)) return fs.existsSync(pattern) ? [pattern] : `no such file (looked for ${pattern})`;
  const dir = path.dirname(pattern);
  if (GLOB.test(dir)) return 'a glob may only be in the last component of the path';
  const re = globRegex(path.basename(pattern));
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // nginx: a glob matching nothing (its directory missing too) includes nothing
  }
  return names
    .filter((n) => re.test(n) && !n.startsWith('.'))
    .sort()
    .map((n) => path.join(dir, n));
}

/** A shell glob of one path component as a RegExp. */
function globRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        const body = glob
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
