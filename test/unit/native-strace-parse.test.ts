/**
 * The strace trace checker (test/native/strace-parse.ts) on hand-written traces: each rule is seen to pass and
 * to fail, and strace's own shapes (interrupted calls, other threads, fd reuse) are read right.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkTrace, parseCalls } from '../native/strace-parse.js';

const M = 100; // the main thread
const ev = (fd: number, events: string): string => `{events=${events}, data={u32=${fd}, u64=${fd}}}`;
const wait = (...events: string[]): string => `${M} epoll_wait(14, [${events.join(', ')}], 256, 0) = ${events.length}`;
const lines = (...l: string[]): string => l.join('\n') + '\n';

const accepted = [
  `${M} epoll_pwait(3, [{events=EPOLLIN, data={u32=14, u64=14}}], 1024, -1, NULL, 8) = 1`,
  `${M} epoll_wait(14, [${ev(10, 'EPOLLIN')}], 256, 0) = 1`,
  `${M} accept4(10, NULL, NULL, SOCK_CLOEXEC|SOCK_NONBLOCK) = 20`,
  `${M} accept4(10, NULL, NULL, SOCK_CLOEXEC|SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)`,
];

describe('strace trace checker', () => {
  it('parses calls, joins unfinished/resumed ones per thread, keeps errno names', () => {
    const calls = parseCalls(
      lines(
        `${M} read(20,  <unfinished ...>`,
        `101 futex(0x1, FUTEX_WAKE_PRIVATE, 1) = 0`,
        `${M} <... read resumed>"GET / HTTP/1.1\\r\\n"..., 65536) = 78`,
        `${M} read(20, 0x7ffd, 65536) = -1 EAGAIN (Resource temporarily unavailable)`,
        `${M} +++ exited with 0 +++`,
      ),
    );
    assert.deepEqual(
      calls.map((c) => [c.tid, c.name, c.ret, c.errno]),
      [
        [101, 'futex', 0, ''],
        [M, 'read', 78, ''],
        [M, 'read', -1, 'EAGAIN'],
      ],
    );
  });

  it('a clean trace: one read and one write per wake-up, short writes wait for EPOLLOUT', () => {
    const r = checkTrace(
      lines(
        ...accepted,
        wait(ev(20, 'EPOLLIN')),
        `${M} read(20, "GET /file HTTP/1.1"..., 65536) = 40`,
        `${M} writev(20, [{iov_base="HTTP/1.1 200 OK"..., iov_len=100}], 1) = 100`,
        wait(ev(20, 'EPOLLIN|EPOLLOUT')),
        `${M} read(20, "x", 65536) = 1`,
        `${M} sendfile(20, 21, [0] => [65536], 5242880) = 65536`,
        wait(ev(20, 'EPOLLOUT')),
        `${M} sendfile(20, 21, [65536] => [5242880], 5177344) = 5177344`,
        `${M} close(20) = 0`,
      ),
    );
    assert.deepEqual(r.violations, []);
    assert.equal(r.stats.clients, 1);
    assert.equal(r.stats.reads, 2);
    assert.equal(r.stats.sendfiles, 2);
    assert.equal(r.stats.writesShort, 1);
    assert.equal(r.stats.epollout, 2);
    assert.equal(r.stats.maxReadsPerWindow, 1);
  });

  it('two reads of one fd between wake-ups is a violation', () => {
    const r = checkTrace(
      lines(...accepted, wait(ev(20, 'EPOLLIN')), `${M} read(20, "a", 65536) = 1`, `${M} read(20, "b", 65536) = 1`),
    );
    assert.equal(r.violations.length, 1);
    assert.match(r.violations[0] ?? '', /fd 20 read twice/);
  });

  it('two writes of one fd between wake-ups is a violation, whatever their kind', () => {
    const r = checkTrace(
      lines(
        ...accepted,
        wait(ev(20, 'EPOLLIN')),
        `${M} write(20, "a", 1) = 1`,
        `${M} sendfile(20, 21, [0] => [1], 1) = 1`,
      ),
    );
    assert.equal(r.violations.length, 1);
    assert.match(r.violations[0] ?? '', /wrote twice/);
  });

  it('a write after EAGAIN needs an EPOLLOUT for that fd in between', () => {
    const bad = checkTrace(
      lines(
        ...accepted,
        wait(ev(20, 'EPOLLIN')),
        `${M} write(20, "a", 1) = -1 EAGAIN (Resource temporarily unavailable)`,
        wait(ev(20, 'EPOLLIN'), ev(21, 'EPOLLOUT')), // a wake-up, but no EPOLLOUT for 20
        `${M} write(20, "a", 1) = 1`,
      ),
    );
    assert.equal(bad.violations.length, 1);
    assert.match(bad.violations[0] ?? '', /after write = EAGAIN without EPOLLOUT/);
    const good = checkTrace(
      lines(
        ...accepted,
        wait(ev(20, 'EPOLLIN')),
        `${M} write(20, "a", 1) = -1 EAGAIN (Resource temporarily unavailable)`,
        wait(ev(20, 'EPOLLOUT')),
        `${M} write(20, "a", 1) = 1`,
      ),
    );
    assert.deepEqual(good.violations, []);
    assert.equal(good.stats.writesEagain, 1);
  });

  it('only client fds of the main thread count; a closed and re-accepted number starts afresh', () => {
    const r = checkTrace(
      lines(
        ...accepted,
        wait(ev(20, 'EPOLLIN')),
        `${M} read(5, "x", 8) = 1`, // not a client
        `${M} read(5, "x", 8) = 1`,
        `101 read(20, "x", 8) = 1`, // another thread
        `${M} read(20, "a", 65536) = 1`,
        `${M} write(20, "a", 1) = -1 EAGAIN (Resource temporarily unavailable)`,
        `${M} close(20) = 0`,
        `${M} accept4(10, NULL, NULL, SOCK_CLOEXEC|SOCK_NONBLOCK) = 20`,
        wait(ev(20, 'EPOLLIN')),
        `${M} write(20, "b", 1) = 1`, // a new connection: the old EAGAIN is not its
      ),
    );
    assert.deepEqual(r.violations, []);
    assert.equal(r.stats.clients, 2);
  });

  it('a trace without accept4 is a violation: it checked nothing', () => {
    assert.equal(checkTrace(lines(wait(ev(3, 'EPOLLIN')))).violations.length, 1);
  });

  it('an abbreviated iovec array leaves the size unknown (no short-write claim)', () => {
    const r = checkTrace(
      lines(
        ...accepted,
        wait(ev(20, 'EPOLLIN')),
        `${M} writev(20, [{iov_base="a", iov_len=1}, ...], 1024) = 1`,
        wait(ev(20, 'EPOLLIN')),
        `${M} write(20, "b", 1) = 1`,
      ),
    );
    assert.deepEqual(r.violations, []);
    assert.equal(r.stats.writesShort, 0);
  });
});
