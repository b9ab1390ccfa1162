/**
 * The validator's safe defaults (DESIGN §9): a broken server block is skipped and the others run, `strict`
 * restores all-or-nothing, `listen` with backlog, and the rule that no upload root may overlap a CGI root.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfigText, type ConfigResult } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/config/', import.meta.url)).replace(/\/$/, '');
const FILE = path.join(FIX, 'test.conf');
const INTERP = path.join(FIX, 'bin', 'fake-interp');

const messages = (r: ConfigResult): string[] => r.errors.map((e) => `${e.pos.line}:${e.pos.col} ${e.detail}`);

function runnable(text: string, file = FILE): { config: Config; errors: string[] } {
  const r = parseConfigText(text, file);
  if (!r.ok) assert.fail(`expected a runnable config, got:\n${messages(r).join('\n')}`);
  return { config: r.config, errors: messages(r) };
}

const names = (c: Config): string[] => c.servers.map((s) => s.serverNames.join(' '));

describe('config: a broken server block is skipped', () => {
  const three = [
    'server { host 127.0.0.1; port 80; server_name good1 }',
    'server {\n  host 127.0.0.1\n  port 80\n  server_name bad\n  body_limt 1k\n}',
    'server { host 127.0.0.1; port 80; server_name good2; error_page 404 ./nope.html }',
    'server { host 127.0.0.1; port 80; server_name good3 }',
  ].join('\n');

  it('keeps the others and reports each error with "(server skipped)"', () => {
    const { config, errors } = runnable(three);
    assert.deepEqual(names(config), ['good1', 'good3']);
    assert.equal(errors.length, 2);
    assert.match(
      errors[0] ?? '',
      /^6:3 unknown directive "body_limt" in server block; did you mean "body_limit"\? \(server skipped\)$/,
    );
    assert.match(errors[1] ?? '', /^8:69 error_page file "\.\/nope\.html" does not exist .* \(server skipped\)$/);
  });

  it('with strict (in the file or as an option) nothing runs, and the messages have no suffix', () => {
    for (const r of [parseConfigText(`strict on\n${three}`, FILE), parseConfigText(three, FILE, { strict: true })]) {
      assert.equal(r.ok, false);
      assert.ok(
        messages(r).every((m) => !m.includes('(server skipped)')),
        messages(r).join('\n'),
      );
      assert.equal(r.errors.length, 2);
    }
  });

  it('strict off is the default and may be written', () => {
    assert.deepEqual(names(runnable(`strict off\n${three}`).config), ['good1', 'good3']);
  });

  it('fails when no server is left, or when the error is outside every server block', () => {
    assert.equal(parseConfigText('server { host 127.0.0.1; port 80; bogus 1 }', FILE).ok, false);
    const outside = parseConfigText(`bogus 1\n${three}`, FILE);
    assert.equal(outside.ok, false);
    assert.match(messages(outside)[0] ?? '', /^1:1 unknown directive "bogus" at top level/);
  });

  it('fails on a syntax error anywhere (the file cannot be understood)', () => {
    const r = parseConfigText(`${three}\nserver { host 127.0.0.1; port 81; "unterminated }`, FILE);
    assert.equal(r.ok, false);
  });

  it('between two servers that clash, the later one is skipped', () => {
    const { config, errors } = runnable(
      'server { host 127.0.0.1; port 80; server_name a }\nserver { host 127.0.0.1; port 80; server_name a b }\n' +
        'server { host 127.0.0.1; port 80; server_name c }',
    );
    assert.deepEqual(names(config), ['a', 'c']);
    assert.deepEqual(errors, [
      '2:1 duplicate server for 127.0.0.1:80 with server_name "a": the server at 1:1 already answers it (server skipped)',
    ]);
  });
});

describe('config: listen', () => {
  const listens = (text: string): string[] =>
    runnable(`server {\n${text}\n}`).config.servers[0]?.listens.map((l) => `${l.host}|${l.port}|${l.backlog}`) ?? [];

  it('takes a port, an address and port, IPv6 in brackets, * and localhost', () => {
    assert.deepEqual(listens('listen 8080'), ['0.0.0.0|8080|4096']);
    assert.deepEqual(listens('listen 127.0.0.1:81\nlisten [::1]:82\nlisten *:83\nlisten localhost:84'), [
      '127.0.0.1|81|4096',
      '::1|82|4096',
      '0.0.0.0|83|4096',
      '127.0.0.1|84|4096',
    ]);
  });

  it('takes backlog=N', () => {
    assert.deepEqual(listens('listen 127.0.0.1:80 backlog=511'), ['127.0.0.1|80|511']);
  });

  it('stands beside host and port', () => {
    assert.deepEqual(listens('host 127.0.0.1\nport 80 81\nlisten [::1]:80'), [
      '127.0.0.1|80|4096',
      '127.0.0.1|81|4096',
      '::1|80|4096',
    ]);
  });

  it('rejects bad forms with their column', () => {
    const bad = (text: string): string[] => messages(parseConfigText(`server {\n${text}\n}`, FILE, { strict: true }));
    assert.match(bad('listen 70000')[0] ?? '', /^2:8 bad listen "70000"/);
    assert.match(bad('listen ::1:80')[0] ?? '', /^2:8 bad listen "::1:80"/);
    assert.match(bad('listen example.com:80')[0] ?? '', /^2:8 bad host "example.com"/);
    assert.match(
      bad('listen 80 backlog=0')[0] ?? '',
      /^2:11 bad listen parameter "backlog=0": expected ssl, default_server or backlog=N/,
    );
    assert.match(bad('listen 80 reuseport')[0] ?? '', /^2:11 bad listen parameter "reuseport"/);
    assert.match(
      bad('listen 80\nlisten *:80')[0] ?? '',
      /^3:8 duplicate listen 0\.0\.0\.0:80 in this server \(first at 2:8\)/,
    );
    assert.match(
      bad('listen 80\nhost 127.0.0.1')[0] ?? '',
      /^3:1 "host" without "port": give both, or use only "listen"/,
    );
  });
});

describe('config: location safety directives', () => {
  const loc = (body: string) =>
    runnable(`server { host 127.0.0.1; port 80\nlocation / {\nroot .\n${body}\n}\n}`).config.servers[0]?.locations[0];

  it('dotfiles deny by default; allow or deny', () => {
    assert.equal(loc('')?.dotfiles, false);
    assert.equal(loc('dotfiles allow')?.dotfiles, true);
    assert.equal(loc('dotfiles deny')?.dotfiles, false);
  });

  it('disable_symlinks: absent keeps links inside the root, off follows all, on refuses all', () => {
    assert.equal(loc('')?.symlinks, 'inside-root');
    assert.equal(loc('disable_symlinks off')?.symlinks, 'follow');
    assert.equal(loc('disable_symlinks on')?.symlinks, 'none');
  });
});

describe('config: nothing uploaded can run', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-overlap-'));
  fs.mkdirSync(path.join(dir, 'www', 'cgi'), { recursive: true });
  fs.symlinkSync(path.join(dir, 'www', 'cgi'), path.join(dir, 'alias'));
  const file = path.join(dir, 'site.conf');
  const cgi = (root: string): string => `location /cgi { root ${root}\ncgi .py ${INTERP} }`;
  const check = (text: string): ConfigResult => parseConfigText(text, file);

  it('an upload root containing a CGI root: the server is skipped, both locations named', () => {
    const r = check(
      `server { host 127.0.0.1; port 80\nlocation / { methods GET POST\nroot www }\n${cgi('www/cgi')}\n}`,
    );
    assert.equal(r.ok, false);
    assert.deepEqual(messages(r), [
      `4:1 location "/cgi" runs CGI scripts from ${dir}/www/cgi, which overlaps the upload root ${dir}/www of location "/" at 2:1: ` +
        'an uploaded file could be run as a script; give uploads a directory of their own (server skipped)',
    ]);
  });

  it('an upload root inside a CGI root, and through a symlink, in another server: the later server is skipped', () => {
    const { config, errors } = runnable(
      `server { host 127.0.0.1; port 80; server_name a\n${cgi('www')}\n}\n` +
        `server { host 127.0.0.1; port 80; server_name b\nlocation /up { methods POST\nroot alias }\n}\n` +
        `server { host 127.0.0.1; port 80; server_name c\nlocation /up { methods POST\nroot up }\n}`,
      file,
    );
    assert.deepEqual(names(config), ['a', 'c']);
    assert.equal(errors.length, 1);
    assert.match(
      errors[0] ?? '',
      /^6:1 location "\/up" stores uploads in .*\/alias, which overlaps the CGI root .*\/www of location "\/cgi" at 2:1/,
    );
  });

  it("a root inherited from the server counts: uploads and scripts both under the server's root", () => {
    const r = check(
      `server { host 127.0.0.1; port 80; root www\nlocation /up { methods GET POST }\n` +
        `location /cgi { cgi .py ${INTERP} }\n}`,
    );
    assert.equal(r.ok, false);
    assert.match(
      messages(r)[0] ?? '',
      /^3:1 location "\/cgi" runs CGI scripts from .*\/www, which overlaps the upload root/,
    );
  });

  it('read-only and DELETE-only locations may share a CGI root; a CGI location with POST stores nothing', () => {
    const { config, errors } = runnable(
      `server { host 127.0.0.1; port 80\nlocation / { root www }\nlocation /d { methods GET DELETE\nroot www }\n` +
        `location /cgi { methods GET POST\nroot www/cgi\ncgi .py ${INTERP} }\n}`,
      file,
    );
    assert.equal(config.servers.length, 1);
    assert.deepEqual(errors, []);
  });
});
