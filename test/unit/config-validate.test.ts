import { OPEN_POLICY } from '../../src/access/policy.js';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMBINED } from '../../src/config/log-format.js';
import { loadConfig, parseConfigText } from '../../src/config/load.js';
import { contentTypeFor, DEFAULT_MIME } from '../../src/http/mime.js';
import { DEFAULTS, NO_RATE_LIMIT, type Config, type ServerConfig } from '../../src/config/types.js';
import { editDistance } from '../../src/config/validate.js';

/** Fixtures live in the source tree; this file runs from build/test/unit/. */
const FIX = fileURLToPath(new URL('../../../test/fixtures/config/', import.meta.url)).replace(/\/$/, '');
const FILE = path.join(FIX, 'test.conf');
const INTERP = path.join(FIX, 'bin', 'fake-interp');

function valid(text: string): Config {
  const result = parseConfigText(text, FILE);
  if (!result.ok) assert.fail(`unexpected errors:\n${result.errors.map((e) => e.message).join('\n')}`);
  return result.config;
}

function server(text: string, index = 0): ServerConfig {
  const s = valid(text).servers[index];
  assert.ok(s !== undefined);
  return s;
}

/** Every error as "line:col detail", in the order returned (strict: every error rejects the whole file, and no
 *  "(server skipped)" suffix; the skipping itself is tested in config-skip.test.ts). */
function errors(text: string): string[] {
  const result = parseConfigText(text, FILE, { strict: true });
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.errors.map((e) => `${e.pos.line}:${e.pos.col} ${e.detail}`);
}

const firstError = (text: string): string => errors(text)[0] ?? '';

/** A server with host and port (lines 1-3); `body` starts on line 4. */
const srv = (body: string): string => `server {\n  host 127.0.0.1\n  port 8080\n${body}\n}\n`;
/** A location "/" at 4:3 whose `body` starts on line 5. */
const loc = (body: string): string => srv(`  location / {\n${body}\n  }`);

// Git may not keep the mode bits the tests rely on; set them before anything runs.
before(() => {
  fs.chmodSync(INTERP, 0o755);
  fs.chmodSync(path.join(FIX, 'bin', 'not-executable'), 0o644);
});

describe('config: valid files', () => {
  it('fills in defaults for a minimal server', () => {
    const config = valid('server {\n  host 0.0.0.0\n  port 80\n}\n');
    assert.equal(config.file, FILE);
    assert.deepEqual(config.servers, [
      {
        listens: [
          {
            host: '0.0.0.0',
            port: 80,
            backlog: 4096,
            ssl: false,
            defaultServer: false,
            pos: { file: FILE, line: 3, col: 8 },
          },
        ],
        serverNames: [],
        bodyLimit: DEFAULTS.bodyLimit,
        errorPages: new Map(),
        errorRedirects: new Map(),
        ops: [],
        addHeaders: [],
        expires: null,
        locations: [],
        timeouts: { header: 10_000, body: 10_000, keepalive: 15_000, send: 30_000, cgi: 30_000 },
        sessionTimeout: DEFAULTS.sessionTimeout,
        sessionMax: DEFAULTS.sessionMax,
        sessionMaxPerAddress: DEFAULTS.sessionMaxPerAddress,
        sessionStore: { kind: 'memory' },
        accessLog: null,
        accessLogFormat: COMBINED,
        accessLogOptions: { buffer: 65536, flushMs: 1000, condition: null },
        errorLog: 'stderr',
        tls: null,
        access: OPEN_POLICY,
        limitRate: NO_RATE_LIMIT,
        realIp: null,
        errorLogLevel: 'info',
        pos: { file: FILE, line: 1, col: 1 },
      },
    ]);
  });

  it('loads the full fixture file with every directive', () => {
    const result = loadConfig(path.join(FIX, 'valid.conf'));
    if (!result.ok) assert.fail(result.errors.map((e) => e.message).join('\n'));
    const [a, b] = result.config.servers;
    assert.ok(a !== undefined && b !== undefined);
    assert.deepEqual(
      a.listens.map((l) => l.port),
      [8080, 8081],
    );
    assert.deepEqual(a.serverNames, ['example.test', 'www.example.test']);
    assert.equal(a.bodyLimit, 10 * 1024 * 1024);
    assert.deepEqual(
      a.errorPages,
      new Map([
        [404, path.join(FIX, 'errors/404.html')],
        [500, path.join(FIX, 'errors/50x.html')],
        [502, path.join(FIX, 'errors/50x.html')],
        [503, path.join(FIX, 'errors/50x.html')],
      ]),
    );
    assert.equal(a.timeouts.keepalive, 5000);
    assert.equal(a.accessLog, 'stdout');
    assert.deepEqual(
      a.locations.map((l) => [l.path, l.methods === null ? null : [...l.methods], l.root, l.redirect, l.status]),
      [
        ['/', ['GET', 'POST', 'DELETE'], path.join(FIX, 'www'), null, false],
        ['/cgi-bin', ['GET', 'POST'], path.join(FIX, 'bin'), null, false],
        ['/old', null, null, '/new', false],
        ['/status', null, null, null, true],
      ],
    );
    const cgiLoc = a.locations[1];
    assert.deepEqual(cgiLoc?.cgi, new Map([['.sh', INTERP]]));
    assert.equal(cgiLoc?.session, true);
    assert.deepEqual(a.locations[0]?.index, ['index.html']);
    assert.equal(a.locations[0]?.directoryListing, false);
    assert.equal(b.listens[0]?.host, '0.0.0.0');
    assert.deepEqual(b.pos, { file: path.join(FIX, 'valid.conf'), line: 30, col: 1 });
  });

  it('accepts comments, quotes, ";" and glued braces together', () => {
    const s = server(
      '# top\nserver{ # open\n  host "127.0.0.1";\n  port 8080;#c\n  location "/a b/"{root "./my www";}}\n',
    );
    assert.deepEqual(
      s.listens.map((l) => `${l.host}:${l.port}`),
      ['127.0.0.1:8080'],
    );
    assert.equal(s.locations[0]?.path, '/a b');
    assert.equal(s.locations[0]?.root, path.join(FIX, 'my www'));
  });

  it('takes several ports, in one directive or several', () => {
    assert.deepEqual(
      server(srv('  port 8081 8082\n  port 9000')).listens.map((l) => l.port),
      [8080, 8081, 8082, 9000],
    );
  });

  it('keeps several servers in order, lower-casing server names', () => {
    const config = valid(
      'server { host 127.0.0.1; port 80; server_name A.Example }\n' +
        'server { host 127.0.0.1; port 80; server_name b.example B.EXAMPLE.ORG }\n' +
        'server { host 0.0.0.0; port 80 }\n' +
        'server { host 127.0.0.1; port 80 }\n',
    );
    assert.deepEqual(
      config.servers.map((s) => [s.listens[0]?.host, s.serverNames]),
      [
        ['127.0.0.1', ['a.example']],
        ['127.0.0.1', ['b.example', 'b.example.org']],
        ['0.0.0.0', []],
        ['127.0.0.1', []],
      ],
    );
  });

  it('maps localhost to 127.0.0.1 and writes IPv6 addresses canonically', () => {
    const host = (text: string): string | undefined => server(text).listens[0]?.host;
    assert.equal(host('server { host localhost; port 1 }'), '127.0.0.1');
    assert.equal(host('server { host 0:0:0:0::1; port 1 }'), '::1');
    assert.equal(host('server { host ::; port 1 }'), '::');
  });

  it('reads sizes in bytes with k, m, g suffixes in either case', () => {
    const sizes = ['0', '512', '10k', '1M', '2g'].map((v) => server(srv(`  body_limit ${v}`)).bodyLimit);
    assert.deepEqual(sizes, [0, 512, 10 * 1024, 1024 * 1024, 2 * 1024 ** 3]);
  });

  it('reads durations as NGINX does and stores milliseconds', () => {
    const s = server(
      srv(
        '  client_header_timeout 500ms\n  client_body_timeout 7\n  keepalive_timeout 2m\n' +
          '  send_timeout 1h\n  cgi_timeout 1m30s\n  session_timeout 1d',
      ),
    );
    assert.deepEqual(s.timeouts, { header: 500, body: 7000, keepalive: 120_000, send: 3_600_000, cgi: 90_000 });
    assert.equal(s.sessionTimeout, 86_400_000);
  });

  it('resolves relative paths against the config file directory', () => {
    const s = server(
      srv(
        '  error_page 404 errors/404.html\n  access_log logs/access.log\n  error_log ../err.log\n' +
          '  location / { root ./www }',
      ),
    );
    assert.equal(s.errorPages.get(404), path.join(FIX, 'errors', '404.html'));
    assert.equal(s.accessLog, path.join(FIX, 'logs', 'access.log'));
    assert.equal(s.errorLog, path.join(path.dirname(FIX), 'err.log'));
    assert.equal(s.locations[0]?.root, path.join(FIX, 'www'));
  });

  it('reads access_log off|stdout and error_log stderr', () => {
    assert.equal(server(srv('  access_log off')).accessLog, null);
    assert.equal(server(srv('  access_log stdout\n  error_log stderr')).errorLog, 'stderr');
    assert.equal(server(srv('  session_max 5')).sessionMax, 5);
  });

  it('reads access_log buffer=, flush= and if=, in any order after the format; defaults 64k and 1s', () => {
    const s = server(srv('  access_log stdout combined flush=5s if=$http_x_log buffer=32k'));
    assert.equal(s.accessLogOptions.buffer, 32 * 1024);
    assert.equal(s.accessLogOptions.flushMs, 5000);
    assert.deepEqual(s.accessLogOptions.condition?.parts, [{ variable: 'http_x_log', header: 'x-log' }]);
    const plain = server(srv('  access_log stdout buffer=4k')).accessLogOptions;
    assert.deepEqual([plain.buffer, plain.flushMs, plain.condition], [4096, 1000, null]);
    assert.equal(server(srv('  access_log stdout')).accessLogOptions.buffer, 64 * 1024);
  });

  it('normalises location paths: no trailing "/" except for "/"', () => {
    const s = server(srv('  location / { root . }\n  location /files/ { root . }\n  location /a/b// { root . }'));
    assert.deepEqual(
      s.locations.map((l) => l.path),
      ['/', '/files', '/a/b'],
    );
  });

  it('stores cgi extensions in lower case and resolves an interpreter with a slash', () => {
    const s = server(loc('    root .\n    cgi .PY ./bin/fake-interp\n    cgi .sh /bin/sh'));
    assert.deepEqual(
      s.locations[0]?.cgi,
      new Map([
        ['.py', INTERP],
        ['.sh', '/bin/sh'],
      ]),
    );
  });

  it('finds a bare interpreter name on PATH and stores the absolute path', () => {
    const saved = process.env['PATH'];
    process.env['PATH'] = `/nonexistent-dir::${path.join(FIX, 'bin')}`;
    try {
      const s = server(loc('    root .\n    cgi .x fake-interp'));
      assert.equal(s.locations[0]?.cgi.get('.x'), INTERP);
    } finally {
      process.env['PATH'] = saved;
    }
  });

  it("takes client_max_body_size as body_limit, and a location's own over its server's", () => {
    const s = server(
      srv(
        '  client_max_body_size 2m\n  location /a {\n    root .\n    body_limit 0\n  }\n  location /b {\n    root .\n  }',
      ),
    );
    assert.equal(s.bodyLimit, 2 * 1024 * 1024);
    assert.deepEqual(
      s.locations.map((l) => l.bodyLimit),
      [0, 2 * 1024 * 1024],
    );
    assert.deepEqual(
      server(loc('    root .')).locations.map((l) => l.bodyLimit),
      [DEFAULTS.bodyLimit],
    );
  });

  it("reads index lists (default_file adds one name), inheriting the server's where a location has none", () => {
    const s = server(
      srv(
        '  index a.html b.html\n  location /a {\n    root .\n    index c.html /d.html\n    index e.html\n  }\n  location /b {\n    root .\n  }',
      ),
    );
    assert.deepEqual(
      s.locations.map((l) => l.index),
      [
        ['c.html', '/d.html', 'e.html'],
        ['a.html', 'b.html'],
      ],
    );
    assert.deepEqual(errors(loc('    root .\n    index /x.html y.html')), [
      '6:11 bad index "/x.html": only the last name may be absolute (a URI starting with "/")',
    ]);
  });

  it("merges types over the server's and the built-in table; an empty block empties it", () => {
    const s = server(
      srv(
        '  default_type text/plain\n  types {\n    text/x-a a\n  }\n' +
          '  location /one {\n    root .\n    types {\n      text/x-b b;\n      image/png a\n    }\n  }\n' +
          '  location /two {\n    root .\n    types { }\n    default_type application/octet-stream\n  }\n' +
          '  location /three {\n    root .\n  }',
      ),
    );
    const [one, two, three] = s.locations.map((l) => l.mime);
    assert.equal(contentTypeFor('/x.a', one), 'image/png');
    assert.equal(contentTypeFor('/x.b', one), 'text/x-b; charset=utf-8');
    assert.equal(contentTypeFor('/x.css', one), 'text/css; charset=utf-8');
    assert.equal(contentTypeFor('/x.zzz', one), 'text/plain; charset=utf-8');
    assert.equal(contentTypeFor('/x.html', two), 'application/octet-stream');
    assert.equal(contentTypeFor('/x.a', three), 'text/x-a; charset=utf-8');
    assert.equal(server(loc('    root .')).locations[0]?.mime, DEFAULT_MIME, 'nothing said: the shared built-in table');
    const again = server(
      srv('  default_type text/plain\n  types {\n    text/x-a a\n  }\n  location / {\n    root .\n  }'),
    );
    assert.equal(again.locations[0]?.mime, three, 'the same content: one interned table');
  });

  it('reads on|off switches, case-insensitively, and the other location directives', () => {
    const l = server(
      loc('    root .\n    directory_listing On\n    session off\n    status ON\n    default_file home.html'),
    ).locations[0];
    assert.deepEqual([l?.directoryListing, l?.session, l?.status, l?.index], [true, false, true, ['home.html']]);
    assert.equal(server(loc('    redirect https://example.com/x')).locations[0]?.redirect, 'https://example.com/x');
  });

  it('allows the same host:port for different names and for different addresses', () => {
    const config = valid(
      'server { host 127.0.0.1; port 80; server_name a }\nserver { host 127.0.0.1; port 80; server_name b }\n' +
        'server { host 0.0.0.0; port 80; server_name a }\n',
    );
    assert.equal(config.servers.length, 3);
  });

  it('reads a file written to a temporary directory, with paths relative to it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-config-'));
    try {
      fs.writeFileSync(path.join(dir, 'oops.html'), 'oops');
      fs.writeFileSync(path.join(dir, 'site.conf'), srv('  error_page 500 oops.html'));
      const result = loadConfig(path.join(dir, 'site.conf'));
      assert.equal(result.ok, true);
      if (result.ok) assert.equal(result.config.servers[0]?.errorPages.get(500), path.join(dir, 'oops.html'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("config: the server's root (nginx's meaning)", () => {
  const cfg = (body: string): ServerConfig => server(`server {\n  listen 8080\n${body}\n}\n`);
  const where = (s: ServerConfig): string[] =>
    s.locations.map((l) => `${l.path} ${l.root === null ? '-' : path.relative(FIX, l.root)} [${l.mapPrefix}]`);

  it('locations without a root inherit it with the whole URI; a location / is added for the rest', () => {
    const s = cfg('  root www\n  location /img { }\n  location /own { root pics }\n  location ~ \\.txt$ { }');
    assert.deepEqual(where(s), ['/img www []', '/own pics [/own]', '\\.txt$ www []', '/ www []']);
  });

  it('no location / is added where one is written; redirects, proxies and reports take no root', () => {
    const s = cfg(
      '  root www\n  location / { }\n  location /r { redirect /x }\n  location /p { proxy_pass http://127.0.0.1:9 }\n' +
        '  location /s { status on }',
    );
    assert.deepEqual(where(s), ['/ www []', '/r - [/r]', '/p - [/p]', '/s - [/s]']);
  });

  it('captures in root and alias: regex locations only, no other variables, a directory first, no cgi', () => {
    const s = cfg('  location ~ ^/u/(\\w+)$ { alias www/users/$1.png }\n  location ~ ^/s/(\\w+)/ { root www/s$1 }');
    const [a, r] = s.locations;
    assert.equal(a?.root, path.join(FIX, 'www/users'));
    assert.deepEqual(a?.rootCaptures?.whole, false);
    assert.deepEqual(a?.rootCaptures?.template.parts, [
      { kind: 'text', text: path.join(FIX, 'www/users') + '/' },
      { kind: 'capture', index: 1 },
      { kind: 'text', text: '.png' },
    ]);
    assert.equal(r?.root, path.join(FIX, 'www'));
    assert.equal(r?.rootCaptures?.whole, true);
    assert.equal(
      firstError(srv('  location /u { alias /srv/$1 }')),
      '4:23 bad "alias" "/srv/$1": captures ($1...$9) need a regex location (~ or ~*)',
    );
    assert.equal(
      firstError(srv('  location ~ ^/u/(.*) { root /srv/$host/$1 }')),
      '4:30 bad "root" "/srv/$host/$1": only captures ($1...$9) may be used here, no other variables',
    );
    assert.equal(
      firstError(srv('  location ~ ^/u/(.*) { alias $1 }')),
      '4:31 bad "alias" "$1": the path must start with a directory before its first capture, as in /srv/users/$1',
    );
    assert.equal(
      firstError(srv(`  location ~ ^/c/(.*) {\n    alias /srv/$1\n    cgi .py ${INTERP}\n  }`)),
      '4:3 location "^/c/(.*)" runs CGI scripts: its root cannot use captures ($1...$9)',
    );
  });

  it('port N default_server marks a listen of the same address too', () => {
    const s = server(
      'server {\n  host 127.0.0.1\n  port 8080 default_server\n  listen 127.0.0.1:8080\n  listen 8081\n}\n',
    );
    assert.deepEqual(
      s.listens.map((l) => `${l.host}:${l.port} ${l.defaultServer}`),
      ['127.0.0.1:8080 true', '0.0.0.0:8081 false'],
    );
  });

  it('a "$" that is no capture is part of the name; a server root or an alias with try_files takes no captures', () => {
    assert.deepEqual(where(cfg('  location /p { root www/price$ }')), ['/p www/price$ [/p]']);
    assert.equal(
      firstError(srv('  root /srv/$1')),
      '4:8 bad "root" "/srv/$1": captures ($1...$9) need a regex location (~ or ~*)',
    );
    assert.equal(
      firstError(srv('  location ~ ^/u/(.*) {\n    alias /srv/$1\n    try_files $uri =404\n  }')),
      '4:3 location "^/u/(.*)" has "try_files" and an "alias" with captures: the alias is the file',
    );
  });

  it('alias is the location root; both in one location is an error, as is a location with nothing to serve', () => {
    assert.deepEqual(where(cfg('  location /a { alias pics }')), ['/a pics [/a]']);
    assert.equal(
      firstError(loc('    root .\n    alias www')),
      '6:5 "root" and "alias" are the same directive here: keep one',
    );
    assert.equal(
      firstError(srv('  location /empty { }')),
      '4:3 location "/empty" has nothing to serve: it needs "root", "redirect", "proxy_pass", "status on" or "metrics on"',
    );
  });
});

describe('config: rejected files (first error: line, column, message)', () => {
  it('reports a file that cannot be read at 1:1', () => {
    const missing = path.join(FIX, 'no-such.conf');
    const result = loadConfig(missing);
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.errors.length, 1);
      assert.equal(
        result.errors[0]?.message,
        `${missing}:1:1: cannot read config file: ENOENT: no such file or directory`,
      );
    }
    const dirResult = loadConfig(FIX);
    assert.equal(dirResult.ok ? '' : dirResult.errors[0]?.detail, 'cannot read config file: not a regular file');
  });

  it('formats the message as FILE:LINE:COL: detail', () => {
    const result = parseConfigText('server {\n  lisn 80\n}', FILE, { strict: true });
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.errors[0]?.message, `${FILE}:2:3: unknown directive "lisn" in server block`);
  });

  it('suggests the nearest directive for a misspelling', () => {
    assert.equal(
      firstError(srv('  body_limt 1k')),
      '4:3 unknown directive "body_limt" in server block; did you mean "body_limit"?',
    );
    assert.equal(firstError(srv('  prot 80')), '4:3 unknown directive "prot" in server block; did you mean "port"?');
    assert.equal(
      firstError(loc('    metods GET')),
      '5:5 unknown directive "metods" in location block; did you mean "methods"?',
    );
  });

  it('suggests a directive of another block when that is the near one', () => {
    assert.equal(
      firstError(srv('  defualt_file x')),
      '4:3 unknown directive "defualt_file" in server block; did you mean "default_file" (a location directive)?',
    );
  });

  it('gives no hint for a name far from every directive, nor for inherited object keys', () => {
    assert.equal(firstError(srv('  frobnicate on')), '4:3 unknown directive "frobnicate" in server block');
    assert.equal(firstError(srv('  constructor x')), '4:3 unknown directive "constructor" in server block');
  });

  it('translates common NGINX directives', () => {
    assert.equal(
      firstError(loc('    root .\n    autoindex on')),
      '6:5 unknown directive "autoindex" in location block; use "directory_listing" instead',
    );
  });

  it('does not also report "missing host" or "nothing to serve" when a directive was unknown', () => {
    assert.deepEqual(errors('server {\n  hots 127.0.0.1\n  port 80\n}'), [
      '2:3 unknown directive "hots" in server block; did you mean "host"?',
    ]);
    assert.deepEqual(errors(loc('    rot ./www')), [
      '5:5 unknown directive "rot" in location block; did you mean "root"?',
    ]);
  });

  it('names the right block for a misplaced directive', () => {
    assert.equal(
      firstError(srv('  cgi .py /usr/bin/python3')),
      '4:3 "cgi" is not allowed in a server block; it belongs in a location block',
    );
    assert.equal(
      firstError(loc('    root .\n    port 80')),
      '6:5 "port" is not allowed in a location block; it belongs in a server block',
    );
    assert.equal(
      firstError('host 127.0.0.1\n'),
      '1:1 "host" is not allowed at top level; it belongs in a server block',
    );
  });

  it('rejects anything at top level other than server', () => {
    assert.equal(firstError('stream {\n}\n'), '1:1 unknown directive "stream" at top level; did you mean "upstream"?');
    assert.equal(firstError('sever {\n}\n'), '1:1 unknown directive "sever" at top level; did you mean "server"?');
    assert.equal(
      firstError(`location / { root . }\n${srv('')}`),
      '1:1 "location" is not allowed at top level; it belongs in a server block',
    );
  });

  it('hints at a missing "}" when a server appears inside a server', () => {
    assert.deepEqual(errors('server {\n  host 127.0.0.1\n  port 80\n\nserver {\n  host ::1\n  port 80\n}\n'), [
      '5:1 "server" is not allowed in a server block; it belongs at top level (is the "}" of the server at 1:1 missing?)',
      '9:1 unexpected end of file: expected "}" to close the server block opened at 1:8',
    ]);
  });

  it('checks the number of arguments', () => {
    assert.equal(
      firstError('server {\n  host 1.2.3.4 5.6.7.8\n  port 1\n}'),
      '2:16 "host" takes 1 argument (host ADDR), got 2',
    );
    assert.equal(
      firstError(srv('  error_page 404')),
      '4:3 "error_page" takes at least 2 arguments (error_page CODE... PATH), got 1',
    );
    assert.equal(
      firstError(srv('  server_name')),
      '4:3 "server_name" takes at least 1 argument (server_name NAME...), got 0',
    );
    assert.equal(firstError('server main {\n}'), '1:8 "server" takes no arguments (server { ... }), got 1');
    assert.equal(
      firstError(loc('    root .\n    cgi .py')),
      '6:5 "cgi" takes 2 arguments (cgi .EXT INTERPRETER), got 1',
    );
  });

  it('rejects an empty quoted argument', () => {
    assert.equal(firstError(loc('    root ""')), '5:10 empty argument: "root" expects DIR');
  });

  it('requires host and port, reported at the server keyword', () => {
    assert.deepEqual(errors('# x\n  server {\n  port 80\n}'), [
      '2:3 missing "host" in server block (required, e.g. "host 127.0.0.1")',
    ]);
    assert.deepEqual(errors('server {\n  host 127.0.0.1\n}'), [
      '1:1 missing "port" in server block (required, e.g. "port 8080")',
    ]);
  });

  it('rejects a host that is not an address', () => {
    assert.equal(
      firstError('server {\n  host example.com\n  port 80\n}'),
      '2:8 bad host "example.com": expected an IPv4 or IPv6 address, or localhost (names go in server_name)',
    );
  });

  it('rejects ports outside 1..65535 or not integers', () => {
    for (const bad of ['0', '65536', 'http', '80.5', '-1', '999999']) {
      assert.equal(firstError(srv(`  port 81 ${bad}`)), `4:11 bad port "${bad}": expected an integer from 1 to 65535`);
    }
  });

  it('rejects the same port twice in one server', () => {
    assert.equal(firstError(srv('  port 9000 8080')), '4:13 port 8080 is listed twice in this server (first at 3:8)');
  });

  it('rejects two servers with the same host:port and server_name, naming the first', () => {
    const text =
      'server { host 127.0.0.1; port 80 81; server_name A.test }\n\n' +
      'server { host 127.0.0.1; port 81; server_name a.test }\n';
    assert.deepEqual(errors(text), [
      '3:1 duplicate server for 127.0.0.1:81 with server_name "a.test": the server at 1:1 already answers it',
    ]);
  });

  it('rejects two servers on the same address with no server_name', () => {
    assert.deepEqual(errors('server { host ::1; port 80 }\nserver { host 0::1; port 80 }'), [
      '2:1 duplicate server for [::1]:80 without server_name: the server at 1:1 already answers it',
    ]);
  });

  it('rejects a location path that does not start with "/"', () => {
    assert.equal(
      firstError(srv('  location files { root . }')),
      '4:12 bad location path "files": expected a path starting with "/"',
    );
  });

  it('rejects the same location twice, counting a trailing "/" as the same', () => {
    assert.equal(
      firstError(srv('  location /files { root . }\n  location /files/ { root . }')),
      '5:12 duplicate location "/files" (first at 4:3)',
    );
  });

  it('takes any method token, and refuses non-tokens, TRACE, CONNECT and a lower-case registered method', () => {
    const written = server(loc('    root .\n    methods GET PUT PATCH PROPFIND X-Sync')).locations[0]?.methods;
    assert.deepEqual([...(written ?? [])], ['GET', 'PUT', 'PATCH', 'PROPFIND', 'X-Sync']);
    assert.equal(
      firstError(loc('    root .\n    methods GET P@T')),
      '6:17 bad method "P@T": expected a token such as GET, PUT or PROPFIND',
    );
    assert.equal(
      firstError(loc('    root .\n    methods TRACE')),
      '6:13 "TRACE" cannot be allowed: it would echo credentials back (RFC 9110 §9.3.8)',
    );
    assert.equal(
      firstError(loc('    root .\n    methods CONNECT')),
      '6:13 "CONNECT" cannot be allowed: this server does not tunnel (RFC 9110 §9.3.6)',
    );
    assert.equal(
      firstError(loc('    root .\n    methods put')),
      '6:13 unknown method "put": methods are case-sensitive, write PUT',
    );
  });

  it('rejects a bad on|off value', () => {
    assert.equal(
      firstError(loc('    root .\n    directory_listing yes')),
      '6:23 bad value "yes" for "directory_listing": expected on or off',
    );
  });

  it('rejects a bad size', () => {
    assert.equal(
      firstError(srv('  body_limit 10mb')),
      '4:14 bad size "10mb": expected bytes with an optional k, m or g suffix, e.g. 10m',
    );
  });

  it('rejects bad and zero durations', () => {
    const message = (v: string): string =>
      `4:21 bad duration "${v}": expected a time such as 500ms, 10s, 2m or 1h (a bare number is seconds)`;
    for (const bad of ['10x', '1.5s', 's', '30s1m', '1s1s'])
      assert.equal(firstError(srv(`  keepalive_timeout ${bad}`)), message(bad));
    const header = (v: string): string => `  client_header_timeout ${v}`;
    assert.equal(firstError(srv(header('0s'))), '4:25 bad duration "0s": expected a time greater than 0');
  });

  it('takes keepalive_timeout 0 (and 0s) as keep-alive off, as nginx does', () => {
    for (const zero of ['0', '0s', '0ms'])
      assert.equal(server(srv(`  keepalive_timeout ${zero}`)).timeouts.keepalive, 0);
  });

  it('rejects session_max below 1', () => {
    assert.equal(firstError(srv('  session_max 0')), '4:15 bad session_max "0": expected an integer of at least 1');
  });

  it('rejects an error_page code outside 300..599', () => {
    assert.equal(
      firstError(srv('  error_page 404 200 errors/404.html')),
      '4:18 bad error_page code "200": expected a status from 300 to 599',
    );
  });

  it('rejects an error_page file that does not exist', () => {
    assert.equal(
      firstError(srv('  error_page 404 errors/nope.html')),
      `4:18 error_page file "errors/nope.html" does not exist (looked for ${path.join(FIX, 'errors/nope.html')})`,
    );
  });

  it('rejects a cgi extension without a leading dot', () => {
    assert.equal(
      firstError(loc('    root .\n    cgi py /bin/sh')),
      '6:9 bad cgi extension "py": expected a dot and a suffix, as in ".py"',
    );
  });

  it('rejects a second cgi line for the same extension', () => {
    assert.equal(
      firstError(loc('    root .\n    cgi .py /bin/sh\n    cgi .PY /bin/sh')),
      '7:9 duplicate cgi extension ".py" in this location (first at 6:9)',
    );
  });

  it('rejects an interpreter that does not exist or cannot run', () => {
    assert.equal(
      firstError(loc('    root .\n    cgi .py ./bin/python9')),
      `6:13 interpreter "./bin/python9" does not exist (looked for ${path.join(FIX, 'bin/python9')})`,
    );
    assert.equal(
      firstError(loc('    root .\n    cgi .py bin/not-executable')),
      `6:13 interpreter "bin/not-executable" is not executable (${path.join(FIX, 'bin/not-executable')})`,
    );
    assert.equal(
      firstError(loc('    root .\n    cgi .py no-such-interpreter-xyz')),
      '6:13 interpreter "no-such-interpreter-xyz" not found on PATH',
    );
  });

  it('rejects a location that could not serve anything', () => {
    assert.equal(
      firstError(loc('    methods GET\n    status off')),
      '4:3 location "/" has nothing to serve: it needs "root", "redirect", "proxy_pass", "status on" or "metrics on"',
    );
  });

  it('rejects a bad redirect target and a default_file with a slash', () => {
    assert.equal(
      firstError(loc('    redirect new-path')),
      '5:14 bad redirect "new-path": expected a path starting with "/" or an absolute URL such as https://example.com/',
    );
    assert.equal(
      firstError(loc('    root .\n    default_file a/index.html')),
      '6:18 bad default_file "a/index.html": expected a file name without "/", e.g. index.html',
    );
  });

  it('rejects a directive given twice where once is the rule', () => {
    assert.equal(firstError(loc('    root .\n    root ./www')), '6:5 duplicate "root" directive (first at 5:5)');
  });

  it('rejects "{" after a directive that is not a block', () => {
    assert.equal(
      firstError(srv('  body_limit 1k {\n  }')),
      '4:17 unexpected "{": "body_limit" is not a block directive',
    );
  });

  it('rejects a block directive without "{"', () => {
    assert.equal(
      firstError(srv('  location /x\n  root .')),
      '4:3 "location" needs a block: expected "{" after "location [=|^~|~|~*] PATH"',
    );
    assert.equal(firstError('server;\n'), '1:1 "server" needs a block: expected "{" after "server"');
  });

  it('rejects unbalanced braces', () => {
    assert.equal(firstError(`${srv('')}}\n`), '6:1 unexpected "}": there is no open block to close');
    assert.equal(
      firstError('server {\n  host 127.0.0.1\n  port 80\n'),
      '4:1 unexpected end of file: expected "}" to close the server block opened at 1:8',
    );
  });

  it('rejects an unterminated quote at the quote', () => {
    assert.equal(
      firstError(loc('    root "./www\n')),
      '5:10 unterminated quoted string: expected a closing " on the same line',
    );
  });

  it('rejects a file with no server block', () => {
    assert.deepEqual(errors('# only a comment\n'), [
      '1:1 no server block: the file must define at least one "server { ... }"',
    ]);
  });

  it('returns every error, in source order', () => {
    const text = 'server {\n  port 0\n  location x { }\n  body_limit big\n}\nserver { host 1.2.3; port 80 }\n';
    assert.deepEqual(errors(text), [
      '1:1 missing "host" in server block (required, e.g. "host 127.0.0.1")',
      '2:8 bad port "0": expected an integer from 1 to 65535',
      '3:12 bad location path "x": expected a path starting with "/"',
      '4:14 bad size "big": expected bytes with an optional k, m or g suffix, e.g. 10m',
      '6:15 bad host "1.2.3": expected an IPv4 or IPv6 address, or localhost (names go in server_name)',
    ]);
  });

  it('measures edit distance with adjacent swaps costing 1', () => {
    assert.deepEqual(
      [
        editDistance('hots', 'host'),
        editDistance('lisen', 'listen'),
        editDistance('', 'abc'),
        editDistance('root', 'root'),
      ],
      [1, 1, 3, 0],
    );
  });
});
