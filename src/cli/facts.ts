/**
 * What `--directives` and `-V` print: the validator's directive table with its prose, and the build facts
 * (nginx's -V lists its configure arguments; ours are the runtime and the transports this machine can run).
 */
import { DIRECTIVE_DOCS } from '../config/directive-docs.js';
import { directiveTable } from '../config/validate.js';
import { SERVER_NAME } from '../http/response.js';
import { packageInfo } from '../lib/package-info.js';
import { loadAddon } from '../server/native/addon.js';

/** Every directive, grouped by context: `NAME USAGE`, its default and meaning (from the validator's table). */
export function directivesText(): string {
  const rows = directiveTable();
  const heads: Record<string, string> = { main: 'top level', server: 'server { }', location: 'location { }' };
  let out = '';
  let context = '';
  for (const d of rows) {
    if (d.context !== context) {
      context = d.context;
      out += `${out === '' ? '' : '\n'}# ${heads[context] ?? context}\n`;
    }
    const doc = DIRECTIVE_DOCS.get(`${d.context} ${d.name}`);
    const form = `${d.name} ${d.usage}`.trimEnd() + (d.block ? ' { ... }' : '');
    const facts = [`default: ${doc?.default ?? 'none'}`, ...(d.repeatable ? ['repeatable'] : [])].join(', ');
    out += `${form}\n    ${doc?.meaning ?? '(undocumented)'} (${facts})\n`;
  }
  return out;
}

/** `name@version` of the package. */
function packageFacts(): string {
  const p = packageInfo();
  return p.name === 'unknown' ? 'unknown' : `${p.name}@${p.version}`;
}

/** `localhost -V`. */
export function buildInfoText(): string {
  const addon = loadAddon();
  return (
    `${SERVER_NAME}\n` +
    `package: ${packageFacts()}\n` +
    `node: ${process.version} (V8 ${process.versions.v8}, libuv ${process.versions.uv})\n` +
    `platform: ${process.platform} ${process.arch}\n` +
    `transports: node${addon.ok ? ', native (epoll addon loaded)' : ` (native unavailable: ${addon.error})`}\n` +
    'runtime dependencies: none\n'
  );
}
