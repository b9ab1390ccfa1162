/**
 * `log_format` with nginx's variables and escapes, `access_log PATH FORMAT`, `error_log PATH LEVEL` (issue 19).
 * A JSON format stays parseable, every line, by JSON.parse and by jq, whatever hostile bytes the request held
 * (quotes, backslashes, tab, bytes that are not UTF-8; other control bytes are refused with 400 by the
 * parser, RFC 9110 §5.5, and are covered by test/unit/log-format.test.ts); the values decode back to the bytes sent.
 * `access_log … buffer= flush= if=`: lines held until the buffer fills or the oldest is flush= old; a request whose
 * condition is empty or "0" is not logged.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureTool } from '../native/support.js';
import { rawRequest } from '../helpers/http.js';
import { MAIN, startServer, type RunningServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

let srv: RunningServer;

const JSON_FORMAT =
  `log_format json escape=json '{"addr":"$remote_addr","user":"$remote_user","time":"$time_iso8601",' ` +
  `'"msec":$msec,"request":"$request","status":$status,"body":$body_bytes_sent,"sent":$bytes_sent,' ` +
  `'"len":$request_length,"rt":$request_time,"ref":"$http_referer","ua":"$http_user_agent",' ` +
  `'"host":"$host","x":"$http_x_thing"}'`;

before(async () => {
  srv = await startServer({
    config: `${JSON_FORMAT}
log_format plain '$request_method|$http_user_agent|$status|$request_length'
server {
  listen 127.0.0.1:{PORT}
  access_log {DIR}/json.log json
  error_log {DIR}/error.log warn
  location / {
    root {DIR}/www
  }
}
server {
  listen 127.0.0.1:{PORT2}
  access_log {DIR}/plain.log plain
  location / {
    root {DIR}/www
  }
}
server {
  listen 127.0.0.1:{PORT3}
  access_log {DIR}/held.log plain buffer=1k flush=2s if=$http_x_log
  location / {
    root {DIR}/www
  }
}
`,
    files: { 'www/a.txt': 'hello\n' },
  });
});

after(async () => {
  await srv.stop();
});

/** Hostile header values, as raw bytes (latin1: one char per byte). */
const HOSTILE: readonly string[] = [
  'quote " and "} break',
  'back\\slash \\" \\\\',
  'tab\tend',
  'not utf-8 \xff\xfe \xc3 \xe2\x82',
  'utf-8 caf\xc3\xa9',
  '","status":999,"x":"',
];

const lines = (file: string): string[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'latin1')
        .split('\n')
        .filter((l) => l !== '')
    : [];

test('escape=json: every line parses (JSON.parse and jq) and gives back the bytes sent', async () => {
  const log = path.join(srv.dir, 'json.log');
  for (const [i, v] of HOSTILE.entries()) {
    const req =
      `GET /a.txt?n=${i} HTTP/1.1\r\nHost: Example.TEST:${srv.port}\r\nUser-Agent: ${v}\r\nReferer: ${v}\r\n` +
      `X-Thing: ${v}\r\nAuthorization: Basic ${Buffer.from('al"ice:pw').toString('base64')}\r\nConnection: close\r\n\r\n`;
    const r = await rawRequest(srv.port, Buffer.from(req, 'latin1'));
    assert.equal(r.status, 200, v);
  }
  const bad = await rawRequest(srv.port, 'GET /\x01 HTTP/1.1\r\n\r\n');
  assert.equal(bad.status, 400);
  await until(() => lines(log).length === HOSTILE.length + 1, 'every line in the JSON log', 5000);
  const all = lines(log);
  for (const line of all) assert.match(line, /^[\x20-\x7e]+$/, 'a JSON line is printable ASCII');
  const parsed = all.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const [i, v] of HOSTILE.entries()) {
    const p = parsed[i] ?? {};
    assert.equal(p['ua'], v, `user agent ${i} decodes to the bytes sent`);
    assert.equal(p['ref'], v);
    assert.equal(p['x'], v);
    assert.equal(p['status'], 200);
    assert.equal(p['body'], 6);
    assert.equal(p['user'], 'al"ice');
    assert.equal(p['host'], 'example.test');
    assert.equal(p['request'], `GET /a.txt?n=${i} HTTP/1.1`);
    assert.ok(typeof p['sent'] === 'number' && p['sent'] > 6 + 17, 'bytes_sent counts the head');
    const reqLen = Buffer.byteLength(
      `GET /a.txt?n=${i} HTTP/1.1\r\nHost: Example.TEST:${srv.port}\r\nUser-Agent: ${v}\r\nReferer: ${v}\r\n` +
        `X-Thing: ${v}\r\nAuthorization: Basic ${Buffer.from('al"ice:pw').toString('base64')}\r\nConnection: close\r\n\r\n`,
      'latin1',
    );
    assert.equal(p['len'], reqLen, '$request_length is the head as received');
    assert.match(String(p['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    assert.ok(Math.abs(Number(p['msec']) * 1000 - Date.now()) < 60_000);
    assert.ok(typeof p['rt'] === 'number' && p['rt'] >= 0 && p['rt'] < 5);
  }
  assert.equal(parsed.at(-1)?.['status'], 400);
  assert.equal(parsed.at(-1)?.['request'], '', 'an unreadable request line is empty, not invalid JSON');
  const missing = ensureTool('jq');
  if (missing !== null) {
    assert.fail(missing);
  }
  const jq = spawnSync('jq', ['-e', '-c', '.status'], { input: fs.readFileSync(log) });
  assert.equal(jq.status, 0, jq.stderr.toString());
  assert.deepEqual(jq.stdout.toString().trim().split('\n'), [...HOSTILE.map(() => '200'), '400']);
});

test('a plain format: the default escaping (\\xXX, "-" for empty) and $request_length with a body', async () => {
  const log = path.join(srv.dir, 'plain.log');
  const port = srv.ports[1] ?? 0;
  await rawRequest(port, Buffer.from('GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: a"b\\c\xff\r\n\r\n', 'latin1'));
  const post = 'POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello';
  assert.equal((await rawRequest(port, post)).status, 405);
  await until(() => lines(log).length === 2, 'two plain lines');
  const [get, posted] = lines(log);
  const getLen = 'GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: a"b\\c\xff\r\n\r\n'.length;
  assert.equal(get, `GET|a\\x22b\\x5cc\\xff|200|${getLen}`);
  assert.equal(posted, `POST|-|405|${post.length}`);
});

test('error_log PATH warn: info lines (the rejected request above) are not written', () => {
  const file = path.join(srv.dir, 'error.log');
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  assert.doesNotMatch(text, /\[info\]/, 'the 400 above logged nothing at warn');
});

test('an unknown variable or format is a configuration error at its position', () => {
  const file = path.join(srv.dir, 'bad.conf');
  fs.writeFileSync(
    file,
    `log_format x '$remote_addr $nope'\nserver {\n  listen 127.0.0.1:1\n  access_log /dev/null missing\n  location / {\n    root .\n  }\n}\n`,
  );
  const r = spawnSync(process.execPath, [MAIN, '-t', file], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.conf:1:14: unknown variable "\$nope" in log_format "x"/);
  assert.match(r.stderr, /bad\.conf:4:24: unknown log format "missing"/);
});

/** A GET on the third server with `User-Agent: ua` and, unless undefined, `X-Log: xlog`. */
async function held(ua: string, xlog?: string): Promise<void> {
  const x = xlog === undefined ? '' : `X-Log: ${xlog}\r\n`;
  const res = await rawRequest(srv.ports[2] ?? 0, `GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: ${ua}\r\n${x}\r\n`);
  assert.equal(res.status, 200);
}

test('access_log if=$http_x_log: a request whose condition is empty or "0" is not logged', async () => {
  const log = path.join(srv.dir, 'held.log');
  const start = lines(log).length;
  await held('no-header');
  await held('zero', '0');
  await held('empty', '');
  await held('one', '1');
  await held('word', 'yes');
  await until(() => lines(log).length >= start + 2, 'the two logged lines', 6000);
  assert.deepEqual(
    lines(log)
      .slice(start)
      .map((l) => l.split('|')[1]),
    ['one', 'word'],
  );
});

test('access_log flush=2s: a lone line waits for flush=, not longer', async () => {
  const log = path.join(srv.dir, 'held.log');
  await until(() => lines(log).length >= 2, 'the lines of the test before', 6000);
  const start = lines(log).length;
  const t0 = Date.now();
  await held('lone', '1');
  await until(() => lines(log).length === start + 1, 'the lone line', 6000);
  const waited = Date.now() - t0;
  // Under a 1 KiB buffer, one short line is written only when flush= says; a loaded machine can only add to that.
  assert.ok(waited >= 1900, `the line was written after ${waited} ms, before flush=2s`);
});

test('access_log buffer=1k: a full buffer is written at once, the rest waits', async () => {
  const log = path.join(srv.dir, 'held.log');
  const start = lines(log).length;
  const ua = 'u'.repeat(60); // each line is about 80 bytes: 30 lines are 2.4 KiB, more than the buffer twice
  for (let i = 0; i < 30; i++) await held(`${ua}${i}`, '1');
  const now = lines(log).length - start;
  assert.ok(now >= 12, `only ${now} of 30 lines written when the 1 KiB buffer had filled twice`);
  await until(() => lines(log).length === start + 30, 'all 30 lines', 6000);
});

test('access_log parameters: each bad one is a configuration error at its position', () => {
  const file = path.join(srv.dir, 'bad-params.conf');
  fs.writeFileSync(
    file,
    'server {\n  listen 127.0.0.1:1\n  access_log /dev/null combined buffer=0 flush=soon if=$nope\n' +
      '  location / {\n    root .\n  }\n}\n' +
      'server {\n  listen 127.0.0.1:2\n  access_log /dev/null gzip=1 x\n  location / {\n    root .\n  }\n}\n',
  );
  const r = spawnSync(process.execPath, [MAIN, '-t', file], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad-params\.conf:3:33: access_log: buffer= must be greater than 0/);
  assert.match(r.stderr, /bad-params\.conf:3:42: bad duration "soon"/);
  assert.match(r.stderr, /bad-params\.conf:3:53: unknown variable "\$nope" in access_log if=/);
  assert.match(r.stderr, /bad-params\.conf:10:24: access_log: gzip is not supported/);
  assert.match(r.stderr, /bad-params\.conf:10:31: access_log: "x" is not a parameter/);
});
