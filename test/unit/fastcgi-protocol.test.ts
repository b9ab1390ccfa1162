import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  beginRequest,
  decodePairs,
  encodePairs,
  FCGI,
  parseEndRequest,
  RecordParser,
  requestHead,
  streamRecords,
  type FcgiRecord,
} from '../../src/handlers/fastcgi/protocol.js';
import {
  parseFastcgiPass,
  parseParamValue,
  parseSplitPathInfo,
  scriptNameOf,
  type FastcgiConfig,
} from '../../src/config/fastcgi.js';

const parse = (bytes: Buffer, step = bytes.length): FcgiRecord[] => {
  const out: FcgiRecord[] = [];
  const p = new RecordParser();
  for (let i = 0; i < bytes.length; i += step) {
    const err = p.push(bytes.subarray(i, i + step), (r) => out.push({ ...r, content: Buffer.from(r.content) }));
    assert.equal(err, null);
  }
  return out;
};

test('a stream is split at 65528 bytes (content and padding within 0xffff), padded to 8, and an empty record ends it', () => {
  const data = Buffer.alloc(70_000, 7);
  const bytes = Buffer.concat(streamRecords(FCGI.STDIN, 1, data));
  const recs = parse(bytes);
  assert.deepEqual(
    recs.map((r) => [r.type, r.id, r.content.length]),
    [
      [FCGI.STDIN, 1, 65528],
      [FCGI.STDIN, 1, 4472],
    ],
  );
  assert.equal(bytes.length % 8, 0);
  const end = Buffer.concat(streamRecords(FCGI.STDIN, 1, Buffer.alloc(0)));
  assert.deepEqual([...end], [1, FCGI.STDIN, 0, 1, 0, 0, 0, 0]);
});

test('records are found whatever the chunking, one byte at a time included', () => {
  const bytes = Buffer.concat([
    ...beginRequest(1, true),
    ...streamRecords(FCGI.STDOUT, 1, Buffer.from('Status: 200\r\n\r\nhi')),
    ...streamRecords(FCGI.STDERR, 1, Buffer.from('oops')),
  ]);
  for (const step of [1, 3, 8, 1000]) {
    const recs = parse(bytes, step);
    assert.deepEqual(
      recs.map((r) => r.type),
      [FCGI.BEGIN_REQUEST, FCGI.STDOUT, FCGI.STDERR],
    );
    assert.equal(recs[0]?.content[2], 1, 'FCGI_KEEP_CONN');
    assert.equal(recs[1]?.content.toString(), 'Status: 200\r\n\r\nhi');
  }
});

test('the request head: BEGIN_REQUEST, params in records of at most 65528 split between pairs, their end, STDIN end', () => {
  const pairs: [string, string][] = [
    ['A', 'a'.repeat(40_000)],
    ['B', 'b'.repeat(40_000)],
    ['C', 'c'],
  ];
  const params = encodePairs(pairs);
  const r = requestHead(1, true, params, true);
  assert.ok(r.ok);
  const head = r.value;
  assert.equal(head.length % 8, 0);
  const recs = parse(head, 7);
  assert.deepEqual(
    recs.map((x) => x.type),
    [FCGI.BEGIN_REQUEST, FCGI.PARAMS, FCGI.PARAMS, FCGI.PARAMS, FCGI.STDIN],
  );
  assert.deepEqual([...(recs[0]?.content ?? [])], [0, 1, 1, 0, 0, 0, 0, 0], 'Responder, FCGI_KEEP_CONN');
  // Each PARAMS record holds whole pairs (php-fpm parses each alone), and content plus padding stays <= 0xffff.
  assert.deepEqual(decodePairs(recs[1]?.content ?? Buffer.alloc(0)), [pairs[0]]);
  assert.deepEqual(decodePairs(recs[2]?.content ?? Buffer.alloc(0)), [pairs[1], pairs[2]]);
  assert.equal(recs[3]?.content.length, 0);
  for (let off = 0; off < head.length;) {
    const len = head.readUInt16BE(off + 4);
    assert.ok(len + (head[off + 6] ?? 0) <= 0xffff, `record at ${off}: ${len} + padding`);
    off += 8 + len + (head[off + 6] ?? 0);
  }
  const small = requestHead(1, false, encodePairs([]), false);
  assert.ok(small.ok);
  const noBody = parse(small.value);
  assert.deepEqual(
    noBody.map((x) => x.type),
    [FCGI.BEGIN_REQUEST, FCGI.PARAMS],
  );
  assert.equal(noBody[0]?.content[2], 0);
  const tooBig = requestHead(1, false, encodePairs([['HUGE', 'h'.repeat(70_000)]]), true);
  assert.ok(!tooBig.ok);
  assert.match(tooBig.error, /over a record/);
});

test('a record of another version breaks the stream', () => {
  const p = new RecordParser();
  assert.match(p.push(Buffer.from([2, 6, 0, 1, 0, 0, 0, 0]), () => undefined) ?? '', /version 2/);
});

test('name-value pairs: one-byte and four-byte lengths (§3.4) round-trip', () => {
  const long = 'v'.repeat(300);
  const pairs: [string, string][] = [
    ['A', ''],
    ['SCRIPT_FILENAME', '/srv/www/index.php'],
    ['LONG', long],
    ['N'.repeat(130), 'x'],
    ['PATH_INFO', '/café'],
  ];
  const buf = encodePairs(pairs);
  assert.equal(buf[1 + 1 + 1], 15, 'a short name: one length byte');
  assert.deepEqual(decodePairs(buf), pairs);
  const cafe = encodePairs([['P', '/café']]);
  assert.deepEqual([...cafe.subarray(0, 2)], [1, 6], 'lengths in bytes: é is two in UTF-8');
  assert.equal(decodePairs(buf.subarray(0, buf.length - 1)), null);
});

test('FCGI_END_REQUEST body', () => {
  assert.deepEqual(parseEndRequest(Buffer.from([0, 0, 1, 0, 2, 0, 0, 0])), { appStatus: 256, protocolStatus: 2 });
  assert.equal(parseEndRequest(Buffer.from([0, 0])), null);
});

test('fastcgi_pass: address, socket, upstream name; a port is needed', () => {
  const a = parseFastcgiPass('127.0.0.1:9000');
  assert.ok(a.ok && a.value.kind === 'address' && a.value.upstream.name === '127.0.0.1:9000');
  const u = parseFastcgiPass('unix:/run/php/php-fpm.sock');
  assert.ok(u.ok && u.value.kind === 'address' && u.value.upstream.name === 'unix:/run/php/php-fpm.sock');
  const n = parseFastcgiPass('php');
  assert.ok(n.ok && n.value.kind === 'upstream' && n.value.name === 'php');
  assert.ok(!parseFastcgiPass('127.0.0.1').ok);
  assert.ok(!parseFastcgiPass('example.com:9000').ok, 'no DNS on the loop');
  assert.ok(!parseFastcgiPass('unix:relative.sock').ok);
});

test('fastcgi_split_path_info and fastcgi_index make the script name', () => {
  const split = parseSplitPathInfo('^(.+\\.php)(/.*)$');
  assert.ok(split.ok);
  assert.ok(!parseSplitPathInfo('^(.+)$').ok, 'two captures needed');
  assert.ok(!parseSplitPathInfo('(').ok);
  const cfg: FastcgiConfig = {
    upstream: { name: 'x', servers: [], keepalive: 0 },
    params: [],
    index: 'index.php',
    splitPathInfo: split.value,
    keepConn: false,
    connectTimeout: 1,
    readTimeout: 1,
    sendTimeout: 1,
  };
  assert.deepEqual(scriptNameOf(cfg, '/a/b.php/c/d'), { scriptName: '/a/b.php', pathInfo: '/c/d' });
  assert.deepEqual(scriptNameOf(cfg, '/a/b.php'), { scriptName: '/a/b.php', pathInfo: '' });
  assert.deepEqual(scriptNameOf(cfg, '/dir/'), { scriptName: '/dir/index.php', pathInfo: '' });
});

test('fastcgi_param values know the FastCGI variables and refuse unknown ones', () => {
  assert.ok(parseParamValue('$document_root$fastcgi_script_name').ok);
  assert.ok(parseParamValue('$https').ok);
  const bad = parseParamValue('$nope');
  assert.ok(!bad.ok && /unknown variable "\$nope"/.test(bad.error));
});
