/**
 * The addon's argument checking: every bad argument is a -errno return value, never an exception and never a
 * crash (a crash would take this whole test process down, which fails the file).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadAddon } from '../../src/server/native/addon.js';
import { mustNative, native } from '../native/support.js';

const n = native();
const skip = typeof n === 'string' ? n : false;
const { EBADF, EINVAL, EBUSY, ENOENT, ENOTSOCK, E2BIG } = os.constants.errno;

/** Calls an addon function with arbitrary arguments, as untyped JavaScript could. */
function call(fn: unknown, ...args: unknown[]): unknown {
  assert.equal(typeof fn, 'function');
  return (fn as (...a: unknown[]) => unknown)(...args);
}

describe('native addon: loading', () => {
  it('loads on Linux, or says why not', () => {
    const r = loadAddon();
    if (process.platform !== 'linux') assert.equal(r.ok, false);
    else if (!r.ok) assert.match(r.error, /not built|disabled|cannot load|lacks|version/);
    else assert.equal(r.value.constants.ABI, 2);
  });
});

describe('native addon: argument validation', { skip }, () => {
  it('connectTcp, connectUnix, sockError: bad arguments are -errno; a socket that is not there is ENOENT', () => {
    const { addon } = mustNative(n);
    for (const [host, port] of [
      ['example.com', 80],
      ['127.0.0.1', 0],
      ['127.0.0.1', 70000],
      ['127.0.0.1', 1.5],
      [1, 80],
      ['127.0.0.1\0x', 80],
    ])
      assert.equal(call(addon.connectTcp, host, port), -EINVAL, `connectTcp(${String(host)}, ${String(port)})`);
    assert.equal(call(addon.connectUnix, ''), -EINVAL);
    assert.equal(call(addon.connectUnix, 42), -EINVAL);
    assert.equal(call(addon.connectUnix, '/x'.repeat(100)), -os.constants.errno.ENAMETOOLONG);
    assert.equal(call(addon.connectUnix, path.join(os.tmpdir(), 'localhost-no-such.sock')), -ENOENT);
    assert.equal(call(addon.sockError, -1), -EBADF);
    const fd = addon.connectTcp('127.0.0.1', 9); // discard port: nobody listens; the refusal comes later
    assert.ok(fd >= 0, String(fd));
    addon.close(fd, false);
  });

  it('descriptors: negative, fractional, huge, non-numbers are EBADF', () => {
    const { addon } = mustNative(n);
    for (const fd of [-1, 1.5, 2 ** 40, NaN, Infinity, '3', null, undefined, {}]) {
      assert.equal(call(addon.read, fd, 10), -EBADF, `read(${String(fd)})`);
      assert.equal(call(addon.close, fd, false), -EBADF, `close(${String(fd)})`);
      assert.equal(call(addon.shutdown, fd, 1), -EBADF);
      assert.equal(call(addon.setNoDelay, fd, true), -EBADF);
      assert.equal(call(addon.sockName, fd), -EBADF);
    }
    // A number that is a valid fd range but not open.
    assert.equal(addon.read(1_000_000, 10), -EBADF);
    assert.equal(addon.write(1_000_000, Buffer.from('x'), 0, 1), -EBADF);
    assert.equal(addon.close(1_000_000, true), -EBADF);
    // Not a socket.
    const f = fs.openSync(os.devNull, 'r');
    assert.equal(addon.setNoDelay(f, true), -ENOTSOCK);
    assert.equal(addon.peerName(f), -ENOTSOCK);
    fs.closeSync(f);
  });

  it('buffers and ranges: offsets or lengths past the end are EINVAL', () => {
    const { addon } = mustNative(n);
    const fd = fs.openSync(os.devNull, 'r+');
    try {
      const b = Buffer.alloc(16);
      assert.equal(addon.readInto(fd, b, 17, 0), -EINVAL);
      assert.equal(addon.readInto(fd, b, 8, 9), -EINVAL);
      assert.equal(addon.readInto(fd, b, -1, 1), -EINVAL);
      assert.equal(call(addon.readInto, fd, 'not a buffer', 0, 1), -EINVAL);
      assert.equal(addon.write(fd, b, 0, 17), -EINVAL);
      assert.equal(addon.write(fd, b, 16, 1), -EINVAL);
      assert.equal(addon.write(fd, b, 0.5, 1), -EINVAL);
      assert.equal(addon.write(fd, b, 0, 16), 16); // the good call works
      assert.equal(call(addon.read, fd, 0), -EINVAL);
      assert.equal(call(addon.read, fd, -5), -EINVAL);
      // writev: not an array, a non-buffer element, start/count/offset out of range.
      assert.equal(call(addon.writev, fd, b, 0, 0, 1), -EINVAL);
      assert.equal(call(addon.writev, fd, [b, 'x'], 0, 0, 2), -EINVAL);
      assert.equal(addon.writev(fd, [b], 1, 0, 1), -EINVAL);
      assert.equal(addon.writev(fd, [b], 0, 0, 2), -EINVAL);
      assert.equal(addon.writev(fd, [b], 0, 17, 1), -EINVAL);
      assert.equal(addon.writev(fd, [b], 0, 0, 0), -EINVAL);
      assert.equal(addon.writev(fd, [b, b], 1, 4, 1), 12);
      // sendfile: negative, fractional or unsafe offsets, counts past the kernel's maximum.
      assert.equal(addon.sendfile(fd, fd, -1, 1), -EINVAL);
      assert.equal(addon.sendfile(fd, fd, 2 ** 60, 1), -EINVAL);
      assert.equal(addon.sendfile(fd, fd, 0.5, 1), -EINVAL);
      assert.equal(addon.sendfile(fd, fd, 0, 2 ** 31), -EINVAL);
      // sendfile from a file at an offset past its end sends nothing; from a non-file, the kernel's error.
      const file = path.join(os.tmpdir(), `native-addon-${process.pid}`);
      fs.writeFileSync(file, 'abc');
      const ffd = fs.openSync(file, 'r');
      assert.equal(addon.sendfile(fd, ffd, 1_000_000, 10), 0);
      assert.equal(addon.sendfile(fd, ffd, 1, 10), 2);
      fs.closeSync(ffd);
      fs.unlinkSync(file);
      assert.equal(addon.shutdown(fd, 3), -EINVAL);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('epoll: bad ops, event bits, generations and the epoll fd itself are refused', () => {
    const { addon } = mustNative(n);
    assert.equal(addon.ctl(0, 0, 1, 1), -EINVAL);
    assert.equal(addon.ctl(4, 0, 1, 1), -EINVAL);
    assert.equal(addon.ctl(1, 0, 2 ** 32, 1), -EINVAL);
    assert.equal(addon.ctl(1, 0, -1, 1), -EINVAL);
    assert.equal(addon.ctl(1, 0, 1, 1 << 31), -EINVAL); // EPOLLET is not for us
    assert.equal(addon.ctl(3, 1_000_000, 1, 1), -EBADF);
    assert.equal(
      addon.loopOpen(() => undefined, 16),
      -EBUSY,
    ); // one epoll set per process
    assert.equal(call(addon.loopOpen, 'f', 16), -EINVAL);
    assert.equal(call(addon.loopRef, 'yes'), -EINVAL);
  });

  it('sockets: names are not resolved, ports and backlogs are checked', () => {
    const { addon } = mustNative(n);
    assert.equal(addon.listenTcp('localhost', 0, 16, false), -EINVAL);
    assert.equal(addon.listenTcp('1.2.3', 0, 16, false), -EINVAL);
    assert.equal(addon.listenTcp('127.0.0.1', 65536, 16, false), -EINVAL);
    assert.equal(addon.listenTcp('127.0.0.1', 0, 0, false), -EINVAL);
    assert.equal(call(addon.listenTcp, 127, 0, 16, false), -EINVAL);
    assert.equal(call(addon.listenTcp, '127.0.0.1\0evil', 0, 16, false), -EINVAL);
    const fd = addon.listenTcp('127.0.0.1', 0, 16, false);
    assert.ok(fd >= 0);
    const name = addon.sockName(fd);
    assert.ok(Array.isArray(name) && name[0] === '127.0.0.1' && name[1] > 0);
    assert.equal(addon.accept(fd, new Int32Array(4), 5), -EINVAL); // max beyond the output array
    assert.equal(call(addon.accept, fd, [0, 0], 1), -EINVAL);
    assert.equal(call(addon.accept, fd, new Uint32Array(4), 1), -EINVAL);
    assert.equal(addon.accept(fd, new Int32Array(4), 4), 0); // nothing pending: 0, not an error
    assert.equal(typeof addon.peerName(fd), 'number'); // a listener has no peer
    const v6 = addon.listenTcp('::1', 0, 16, true);
    if (v6 >= 0) {
      const n6 = addon.sockName(v6);
      assert.ok(Array.isArray(n6) && n6[0] === '::1');
      addon.close(v6, false);
    }
    assert.equal(addon.close(fd, false), 0);
    assert.equal(addon.close(fd, false), -EBADF);
  });

  it('processes: kill never reaches pid 0, 1 or -1; spawn checks its vectors', () => {
    const { addon } = mustNative(n);
    for (const pid of [0, 1, -1, -process.pid, 1.5]) assert.equal(addon.kill(pid, 0, true), -EINVAL, `kill(${pid})`);
    assert.equal(addon.kill(process.pid, 65, false), -EINVAL);
    assert.equal(addon.kill(process.pid, 0, false), 0);
    const out = new Int32Array(5);
    assert.equal(call(addon.spawn, '/bin/true', 'true', [], '', -2, out), -EINVAL);
    assert.equal(call(addon.spawn, '/bin/true', ['true', 5], [], '', -2, out), -EINVAL);
    assert.equal(addon.spawn('/bin/true', [], [], '', -2, out), -EINVAL); // argv[0] is required
    assert.equal(addon.spawn('/bin/true', ['true', 'a\0b'], [], '', -2, out), -EINVAL);
    assert.equal(addon.spawn('/bin/true', ['true'], ['A=\0'], '', -2, out), -EINVAL);
    assert.equal(addon.spawn('', ['true'], [], '', -2, out), -ENOENT);
    assert.equal(addon.spawn('/bin/true', ['true'], [], '', -3, out), -EINVAL);
    assert.equal(addon.spawn('/bin/true', ['true'], [], '', 1_000_000, out), -EBADF);
    assert.equal(addon.spawn('/bin/true', ['true'], [], '', -2, new Int32Array(4)), -EINVAL);
    assert.equal(addon.spawn('/bin/true', new Array<string>(5000).fill('x'), [], '', -2, out), -E2BIG);
    assert.equal(addon.waitExit(1_000_000, new Int32Array(2)), -EBADF);
    assert.equal(addon.waitExit(0, new Int32Array(1)), -EINVAL);
    const fd = fs.openSync(os.devNull, 'r');
    assert.equal(addon.waitExit(fd, new Int32Array(2)), -EBADF); // not a pidfd: the kernel's answer
    fs.closeSync(fd);
  });

  it('missing arguments are errors too', () => {
    const { addon } = mustNative(n);
    assert.equal(call(addon.read), -EBADF);
    assert.equal(call(addon.write, 1), -EINVAL);
    assert.equal(call(addon.writev, 1), -EINVAL);
    assert.equal(call(addon.sendfile), -EBADF);
    assert.equal(call(addon.spawn), -EINVAL);
    assert.equal(call(addon.ctl), -EINVAL);
    assert.equal(call(addon.kill), -EINVAL);
  });
});
