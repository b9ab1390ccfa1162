/**
 * One source of truth for the directives (issue 19): the validator's tables. Every table directive has its
 * default and meaning in config/directive-docs.ts (for `--directives`), and README's three directive tables list
 * exactly the table's names, each under its own context.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIRECTIVE_DOCS } from '../../src/config/directive-docs.js';
import { directiveTable } from '../../src/config/validate.js';
import { REPO } from '../helpers/server.js';

const keys = (): string[] => directiveTable().map((d) => `${d.context} ${d.name}`);

test('every directive of the validator has a default and a meaning, and no doc names a missing directive', () => {
  assert.deepEqual([...DIRECTIVE_DOCS.keys()].sort(), keys().sort());
  for (const [key, doc] of DIRECTIVE_DOCS) {
    assert.notEqual(doc.meaning.trim(), '', key);
    assert.notEqual(doc.default.trim(), '', key);
  }
});

/** The directive names in the table rows of README's section `heading` (up to the next heading). */
function readmeNames(readme: string, heading: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has a "${heading}" section`);
  const rest = readme.slice(start + heading.length + 2);
  const section = rest.slice(0, rest.search(/\n#{1,3} /));
  return [...section.matchAll(/^\| `([a-z_]+)\b[^`]*` \|/gm)].map((m) => m[1] ?? '');
}

test("README's directive tables list exactly the validator's directives, by context", () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const sections = { main: '### Top level', server: '### Server block', location: '### Location block' } as const;
  for (const [context, heading] of Object.entries(sections)) {
    const inTable = directiveTable()
      .filter((d) => d.context === context)
      .map((d) => d.name)
      .sort();
    assert.deepEqual(readmeNames(readme, heading).sort(), inTable, `${heading} vs the ${context} table`);
  }
});
