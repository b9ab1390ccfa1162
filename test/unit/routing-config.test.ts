/**
 * The routing directives of issue 17 as the validator reads them: location modifiers, rewrite, return,
 * try_files, error_page URI, add_header, expires; and their errors at FILE:LINE:COL.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';

const FILE = '/tmp/routing-test.conf';

function load(body: string): { config: Config | null; errors: string[] } {
  const text = `server {\n  listen 127.0.0.1:8080\n${body}\n}\n`;
  const r = parseConfigText(text, FILE);
  const errors = r.errors.map((e) => e.message.replace(`${FILE}:`, ''));
  return { config: r.ok ? r.config : null, errors };
}

describe('routing directives: accepted', () => {
  test('location modifiers give the match kinds, in file order', () => {
    const { config, errors } = load(
      '  location = /a { return 200 }\n  location ^~ /b/ { return 200 }\n  location ~ \\.php$ { return 200 }\n' +
        '  location ~* \\.JPG$ { return 200 }\n  location /c/ { return 200 }',
    );
    assert.deepEqual(errors, []);
    const locs = config?.servers[0]?.locations ?? [];
    assert.deepEqual(
      locs.map((l) => [l.match.kind, l.path, l.mapPrefix]),
      [
        ['exact', '/a', ''],
        ['stop', '/b/', '/b'],
        ['regex', '\\.php$', ''],
        ['regex', '\\.JPG$', ''],
        ['prefix', '/c', '/c'],
      ],
    );
    const ci = locs[3]?.match;
    assert.ok(ci?.kind === 'regex' && ci.regex.ignoreCase);
  });
  test('the same path with different modifiers is not a duplicate', () => {
    const { errors } = load('  location = /a { return 200 }\n  location /a { return 204 }');
    assert.deepEqual(errors, []);
  });
  test('error_page with "=" or a missing absolute path is the URI form; an existing file stays a file', () => {
    const { config, errors } = load(
      '  error_page 404 /404.html\n  error_page 500 502 =200 /oops\n  location / { return 200 }',
    );
    assert.deepEqual(errors, []);
    const s = config?.servers[0];
    assert.deepEqual(s?.errorRedirects.get(404), { uri: '/404.html', status: null });
    assert.deepEqual(s?.errorRedirects.get(502), { uri: '/oops', status: 200 });
    assert.equal(s?.errorPages.size, 0);
  });
  test('expires times', () => {
    const { config } = load('  expires 1h30m\n  location / { expires -1\n return 200 }');
    const s = config?.servers[0];
    assert.deepEqual(s?.expires, { kind: 'time', seconds: 5400 });
    assert.deepEqual(s?.locations[0]?.expires, { kind: 'time', seconds: -1 });
  });
});

describe('routing directives: errors point at FILE:LINE:COL', () => {
  const first = (body: string): string => load(body).errors[0] ?? '';
  test('a location regex that does not compile', () => {
    assert.match(first('  location ~ ^/(a { return 200 }'), /^3:14: bad regular expression "\^\/\(a": /);
  });
  test('a rewrite regex that does not compile', () => {
    assert.match(first('  location / {\n    rewrite [z-a] /x last\n  }'), /^4:13: bad regular expression "\[z-a\]"/);
  });
  test('an unknown variable, at its own column', () => {
    assert.equal(first('  location / { return 200 "x $nope" }'), '3:30: unknown variable "$nope" (server skipped)');
  });
  test('$status only in add_header', () => {
    assert.match(first('  location / { return 200 $status }'), /^3:27: unknown variable "\$status" here/);
    assert.deepEqual(load('  location / { add_header X-S $status\n return 200 }').errors, []);
  });
  test('bad return code, rewrite flag, try_files fallback, modifier', () => {
    assert.match(first('  location / { return 99 }'), /^3:23: bad return code "99"/);
    assert.match(first('  location / { rewrite ^ /x sideways }'), /^3:29: bad rewrite flag "sideways"/);
    assert.match(first('  location / { root /tmp\n try_files $uri =99 }'), /^4:17: bad try_files status "=99"/);
    assert.match(first('  location !~ /x { return 200 }'), /^3:12: bad location modifier "!~"/);
  });
  test('add_header cannot set framing headers', () => {
    assert.match(first('  add_header Content-Length 5\n  location / { return 200 }'), /^3:14: add_header cannot set/);
  });
});

describe('server_name patterns', () => {
  test('a misplaced "*" and a bad regex are errors at the name', () => {
    assert.match(
      load('  server_name www.*.example.com\n  location / { return 200 }').errors[0] ?? '',
      /^3:15: bad server_name "www\.\*\.example\.com": a "\*" may only be/,
    );
    assert.match(
      load('  server_name ~^(a\n  location / { return 200 }').errors[0] ?? '',
      /^3:15: bad server_name regex "~\^\(a"/,
    );
  });
  test('nginx precedence: exact, longest leading wildcard, longest trailing wildcard, first regex', async () => {
    const { VHostGroup } = await import('../../src/router/vhost.js');
    const text = [
      ['*.a.test', 'short'],
      ['~^x', 'regex'],
      ['*.b.a.test', 'long'],
      ['x.*', 'trail'],
      ['x.a.test', 'exact'],
      ['.c.test', 'dot'],
    ]
      .map(([n, tag]) => `server {\n  listen 127.0.0.1:8080\n  server_name ${n}\n  return 200 ${tag}\n}\n`)
      .join('');
    const r = parseConfigText(text, FILE);
    assert.ok(r.ok, r.errors.map((e) => e.message).join('\n'));
    const g = new VHostGroup(r.config.servers);
    const tag = (host: string): string => {
      const op = g.select(host).ops[0];
      return op?.kind === 'return' ? (op.text?.source ?? '') : '';
    };
    assert.equal(tag('x.a.test'), 'exact');
    assert.equal(tag('y.b.a.test'), 'long');
    assert.equal(tag('x.b.a.test'), 'long');
    assert.equal(tag('q.a.test'), 'short');
    assert.equal(tag('x.other'), 'trail');
    assert.equal(tag('xyz'), 'regex');
    assert.equal(tag('c.test'), 'dot');
    assert.equal(tag('d.c.test'), 'dot');
    assert.equal(tag('none'), 'short');
  });
});

describe('config structure: include, http, events, nginx names', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'routing-include-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const write = (rel: string, text: string): string => {
    const p = path.join(tmp, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
    return p;
  };
  const server = (port: number, extra = ''): string =>
    `server {\n  listen 127.0.0.1:${port}\n${extra}  location / { return 200 }\n}\n`;

  test('include is relative to the including file; globs are sorted; http and events are accepted', () => {
    write('conf.d/b.conf', server(2));
    write('conf.d/a.conf', server(1));
    write('conf.d/skip.txt', 'garbage');
    write('sub/inner.conf', 'include ../conf.d/*.conf\n');
    const main = write('main.conf', 'events { worker_connections 10; }\nhttp {\n  include sub/inner.conf;\n}\n');
    const r = loadConfig(main);
    assert.ok(r.ok, r.errors.map((e) => e.message).join('\n'));
    assert.deepEqual(
      r.config.servers.map((s) => s.listens[0]?.port),
      [1, 2],
    );
    assert.deepEqual(
      (r.notices ?? []).map((n) => n.message),
      [
        `${main}:1:1: notice: "events" is accepted and ignored: one thread serves every connection here; limits are set per server`,
      ],
    );
  });
  test('errors in an included file point into it', () => {
    const inc = write(
      'bad/inc.conf',
      '\nserver {\n  listen 127.0.0.1:3\n  colour red\n  location / { return 200 }\n}\n',
    );
    const main = write('bad/main.conf', `${server(4)}include inc.conf\n`);
    const r = loadConfig(main);
    assert.equal(r.errors[0]?.message.startsWith(`${inc}:4:3: unknown directive "colour"`), true, r.errors[0]?.message);
  });
  test('a missing file, a self-include, a second http block', () => {
    const missing = write('m/main.conf', `${server(5)}include nope.conf\n`);
    assert.match(loadConfig(missing).errors[0]?.message ?? '', /m\/main\.conf:5:9: include "nope\.conf": no such file/);
    const self = write('s/main.conf', `${server(6)}include main.conf\n`);
    assert.match(
      loadConfig(self)
        .errors.map((e) => e.message)
        .join('\n'),
      /include nested more than 10 deep/,
    );
    const twice = write('h/main.conf', `http {\n${server(7)}}\nhttp {\n}\n`);
    assert.match(loadConfig(twice).errors[0]?.message ?? '', /h\/main\.conf:7:1: duplicate "http" block/);
  });
  test('an nginx directive we lack is "not supported (nginx directive)"', () => {
    assert.match(
      load('  location / {\n    proxy_redirect off;\n    return 200\n  }').errors[0] ?? '',
      /^4:5: "proxy_redirect" is not supported \(nginx directive\)/,
    );
    assert.match(
      parseConfigText(`worker_rlimit_nofile 4096;\n${server(8)}`, FILE).errors[0]?.message ?? '',
      /:1:1: "worker_rlimit_nofile" is not supported \(nginx directive\)/,
    );
  });
});
