/**
 * The master/worker protocol (src/server/workers/protocol.ts) and `worker_processes` in the configuration.
 */
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import {
  FIRST_SOCKET_FD,
  isRetire,
  parseSlot,
  parseSockets,
  parseTotals,
  parseWorkerMessage,
  respawnDelay,
  socketKey,
  sumCounters,
} from '../../src/server/workers/protocol.js';
import { pipePieces } from '../../src/server/logs.js';

const SERVER = 'server {\n  host 127.0.0.1\n  port 8080\n  location / {\n    status on\n  }\n}\n';

function workers(top: string): number | string {
  const r = parseConfigText(`${top}\n${SERVER}`, '/etc/x.conf', { strict: true });
  return r.ok ? r.config.workerProcesses : r.errors.map((e) => `${e.pos.line}:${e.pos.col} ${e.detail}`).join('; ');
}

describe('worker_processes', () => {
  it('defaults to 1, takes N and auto', () => {
    assert.equal(workers(''), 1);
    assert.equal(workers('worker_processes 3'), 3);
    assert.equal(workers('worker_processes auto'), Math.max(1, os.availableParallelism()));
  });
  it('refuses 0, words, and more than 256, at the argument', () => {
    for (const bad of ['0', 'two', '257', '-1']) {
      assert.equal(
        workers(`worker_processes ${bad}`),
        `1:18 bad value "${bad}" for "worker_processes": expected auto or an integer from 1 to 256`,
      );
    }
  });
  it('is a top-level directive only', () => {
    const r = parseConfigText(SERVER.replace('port 8080', 'port 8080\n  worker_processes 2'), '/etc/x.conf', {
      strict: true,
    });
    assert.equal(r.ok, false);
  });
});

describe('worker protocol', () => {
  it('knows the retire message, and nothing else as one', () => {
    assert.equal(isRetire({ type: 'retire' }), true);
    for (const other of [null, 'retire', { type: 'totals' }, {}, ['retire']]) assert.equal(isRetire(other), false);
  });
  it('parses the slot, and nothing malformed', () => {
    assert.deepEqual(parseSlot('1/2'), { index: 1, count: 2 });
    for (const bad of [undefined, '', '2/2', '1', 'a/b', '1/2/3']) assert.equal(parseSlot(bad), null);
  });
  it('round-trips the sockets, and refuses what the master does not write', () => {
    const list = [
      { key: socketKey({ host: '::', port: 80, ipv6Only: true }), fd: FIRST_SOCKET_FD },
      { key: socketKey({ host: '127.0.0.1', port: 81, ipv6Only: false }), error: 'EADDRINUSE' },
    ];
    assert.deepEqual(parseSockets(JSON.stringify(list)), list);
    assert.equal(list[0]?.key, '::|80|6');
    for (const bad of ['', '{}', '[1]', '[{"key":"a","fd":2}]', '[{"fd":4}]'])
      assert.equal(typeof parseSockets(bad), 'string', bad);
  });
  it('parses worker messages and totals, and ignores foreign ones', () => {
    const c = { accepted: 1, handled: 1, requests: 2, active: 1, reading: 0, writing: 1, waiting: 0 };
    const m = [['localhost_http_requests_total', '', 'server="a",code="2xx",method="GET"', 3]];
    assert.deepEqual(parseWorkerMessage({ type: 'counters', counters: c, metrics: m }), {
      type: 'counters',
      counters: c,
      metrics: m,
    });
    assert.equal(parseWorkerMessage({ type: 'counters', counters: c }), null, 'metrics missing');
    assert.equal(parseWorkerMessage({ type: 'counters', counters: c, metrics: [['a', '', '', 'x']] }), null);
    assert.equal(parseWorkerMessage({ type: 'counters', counters: c, metrics: [['a', '', 1]] }), null);
    assert.deepEqual(parseWorkerMessage({ type: 'ready', lines: ['a'], skipped: [] }), {
      type: 'ready',
      lines: ['a'],
      skipped: [],
    });
    assert.deepEqual(parseWorkerMessage({ type: 'closed' }), { type: 'closed' });
    assert.equal(parseWorkerMessage({ type: 'counters', counters: { ...c, active: 'x' }, metrics: m }), null);
    assert.equal(parseWorkerMessage('ready'), null);
    assert.deepEqual(parseTotals({ type: 'totals', workers: 2, counters: c, metrics: m }), {
      type: 'totals',
      workers: 2,
      counters: c,
      metrics: m,
    });
    assert.equal(parseTotals({ type: 'totals', counters: c, metrics: m }), null);
    assert.equal(parseTotals({ type: 'totals', workers: 2, counters: c }), null);
  });
  it('sums counters', () => {
    const a = { accepted: 1, handled: 1, requests: 2, active: 1, reading: 0, writing: 1, waiting: 0 };
    const b = { accepted: 3, handled: 3, requests: 5, active: 0, reading: 0, writing: 0, waiting: 2 };
    assert.deepEqual(sumCounters([a, b]), {
      accepted: 4,
      handled: 4,
      requests: 7,
      active: 1,
      reading: 0,
      writing: 1,
      waiting: 2,
    });
  });
  it('backs off from 100 ms, doubling, to at most 10 s', () => {
    assert.deepEqual([0, 1, 2, 3].map(respawnDelay), [100, 200, 400, 800]);
    assert.equal(respawnDelay(50), 10_000);
  });
});

describe('log pieces for a shared pipe', () => {
  it('cuts at line ends, each piece at most PIPE_BUF unless one line is longer', () => {
    const line = 'x'.repeat(99) + '\n';
    const data = line.repeat(100) + 'y'.repeat(5000) + '\n' + line;
    const pieces = pipePieces(data);
    assert.equal(pieces.join(''), data);
    for (const p of pieces) {
      assert.ok(p.endsWith('\n'));
      assert.ok(Buffer.byteLength(p) <= 4096 || !p.slice(0, -1).includes('\n'), `${p.length}`);
    }
    assert.deepEqual(pipePieces('a\nb\n'), ['a\nb\n']);
  });
});
