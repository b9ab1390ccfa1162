/**
 * NativeLauncher through real processes: /bin/sh scripts and coreutils, their pipes on the native loop and their
 * exit learnt from a pidfd.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildEvents, LaunchSpec } from '../../src/server/transport.js';
import { NativeLauncher } from '../../src/server/native/launcher.js';
import { until } from '../helpers/wait.js';
import { mustNative, native } from '../native/support.js';

const n = native();
const skip = typeof n === 'string' ? n : false;

/** What a child did, as its events told it. */
interface Outcome {
  pid: number;
  stdout: Buffer;
  stderr: Buffer;
  code: number | null;
  signal: string | null;
  order: string[];
  drains: number;
}

/** Runs `spec` to its onClose; `feed` may write to stdin. */
function runChild(
  spec: Partial<LaunchSpec> & { file: string },
  feed?: (c: import('../../src/server/transport.js').Child, o: Outcome) => void,
  onStarted?: (o: Outcome) => void,
): Promise<Outcome> {
  const { loop } = mustNative(n);
  const launcher = new NativeLauncher(loop);
  const out: Buffer[] = [];
  const errb: Buffer[] = [];
  const o: Outcome = {
    pid: 0,
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    code: null,
    signal: null,
    order: [],
    drains: 0,
  };
  return new Promise((resolve, reject) => {
    let feeder: (() => void) | null = null;
    const events: ChildEvents = {
      onStdout: (c) => {
        out.push(c);
        o.stdout = Buffer.concat(out);
        onStarted?.(o);
      },
      onStdoutEnd: () => void o.order.push('stdout-end'),
      onStderr: (c) => void errb.push(c),
      onStderrEnd: () => void o.order.push('stderr-end'),
      onStdinDrain: () => {
        o.drains++;
        feeder?.();
      },
      onSpawnError: (r) => reject(new Error(`spawn error ${r}`)),
      onExit: (code, signal) => {
        o.code = code;
        o.signal = signal;
        o.order.push('exit');
      },
      onClose: () => {
        o.order.push('close');
        o.stdout = Buffer.concat(out);
        o.stderr = Buffer.concat(errb);
        resolve(o);
      },
    };
    const r = launcher.launch({ args: [], cwd: '/', env: { PATH: '/usr/bin:/bin' }, stdin: 'null', ...spec }, events);
    if (!r.ok) {
      reject(new Error(r.error));
      return;
    }
    o.pid = r.value.pid;
    if (feed !== undefined) {
      feeder = () => feed(r.value, o);
      feeder();
    }
  });
}

describe('NativeLauncher', { skip }, () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'native-launcher-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs a /bin/sh script: stdout, stderr, exit code, then onClose', async () => {
    const o = await runChild({ file: '/bin/sh', args: ['-c', 'echo out; echo err >&2; exit 3'] });
    assert.equal(o.stdout.toString(), 'out\n');
    assert.equal(o.stderr.toString(), 'err\n');
    assert.equal(o.code, 3);
    assert.equal(o.signal, null);
    assert.equal(o.order[o.order.length - 1], 'close');
    assert.ok(o.order.includes('stdout-end') && o.order.includes('stderr-end') && o.order.includes('exit'));
  });

  it('stdin pipe: 4 MiB through cat comes back byte for byte, with backpressure (onStdinDrain)', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    let off = 0;
    const o = await runChild({ file: '/bin/cat', stdin: 'pipe' }, (c) => {
      const stdin = c.stdin;
      assert.ok(stdin !== null);
      while (off < data.length) {
        const piece = data.subarray(off, Math.min(data.length, off + 256 * 1024));
        off += piece.length;
        if (!stdin.write(piece)) return; // onStdinDrain continues
      }
      stdin.end();
    });
    assert.equal(o.code, 0);
    assert.ok(o.stdout.equals(data), `got ${o.stdout.length} bytes of ${data.length}`);
    assert.ok(o.drains > 0, 'the pipe never pushed back');
  });

  it('stdin null: the child reads EOF at once', async () => {
    const o = await runChild({
      file: '/bin/sh',
      args: ['-c', 'if read x; then echo got; else echo eof; fi'],
      stdin: 'null',
    });
    assert.equal(o.stdout.toString(), 'eof\n');
  });

  it('stdin from a descriptor: the child gets a copy, ours stays open', async () => {
    const file = path.join(dir, 'in.txt');
    fs.writeFileSync(file, 'from a file\n');
    const fd = fs.openSync(file, 'r');
    try {
      const o = await runChild({ file: '/bin/cat', stdin: fd });
      assert.equal(o.stdout.toString(), 'from a file\n');
      assert.ok(fs.fstatSync(fd).isFile(), 'our descriptor was closed');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a signal that kills the child is reported by name', async () => {
    const o = await runChild({ file: '/bin/sh', args: ['-c', 'kill -TERM $$; sleep 5'] });
    assert.equal(o.code, null);
    assert.equal(o.signal, 'SIGTERM');
  });

  it('killGroup reaches grandchildren: onClose comes only once they are dead too', async () => {
    let grandchild = 0;
    let killedAt = 0;
    const { loop } = mustNative(n);
    const launcher = new NativeLauncher(loop);
    const result = await new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
      let signal: string | null = null;
      let code: number | null = null;
      let text = '';
      const r = launcher.launch(
        {
          file: '/bin/sh',
          args: ['-c', 'sleep 1000 & echo $!; wait'],
          cwd: '/',
          env: { PATH: '/usr/bin:/bin' },
          stdin: 'null',
        },
        {
          onStdout(c) {
            text += c.toString();
            if (text.endsWith('\n') && grandchild === 0 && r.ok) {
              grandchild = Number(text.trim());
              killedAt = Date.now();
              r.value.killGroup('SIGKILL');
            }
          },
          onStdoutEnd() {},
          onStderr() {},
          onStderrEnd() {},
          onStdinDrain() {},
          onSpawnError: (e) => reject(new Error(e)),
          onExit(c, s) {
            code = c;
            signal = s;
          },
          onClose: () => resolve({ code, signal }),
        },
      );
      if (!r.ok) reject(new Error(r.error));
    });
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(grandchild > 0);
    // sleep 1000 held the stdout pipe: onClose within seconds means it died with the group.
    assert.ok(Date.now() - killedAt < 5000);
    const state = (() => {
      try {
        return fs.readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(' ')[2];
      } catch {
        return 'gone';
      }
    })();
    assert.ok(state === 'gone' || state === 'Z', `grandchild ${grandchild} is ${state}`);
  });

  it('cwd and environment are exactly as given', async () => {
    const env = { A: '1', B: 'two words', EMPTY: '', LC_X: 'é' };
    const o = await runChild({ file: '/usr/bin/env', env });
    assert.deepEqual(
      o.stdout
        .toString()
        .split('\n')
        .filter((l) => l !== ''),
      ['A=1', 'B=two words', 'EMPTY=', 'LC_X=é'],
    );
    const o2 = await runChild({ file: '/bin/pwd', args: ['-P'], cwd: dir });
    assert.equal(o2.stdout.toString().trim(), fs.realpathSync(dir));
    const o3 = await runChild({ file: '/usr/bin/env', env: {} });
    assert.equal(o3.stdout.length, 0);
  });

  it('a bare name is found along the given PATH, not ours', async () => {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'only-here'), '#!/bin/sh\necho found\n', { mode: 0o755 });
    const o = await runChild({ file: 'only-here', env: { PATH: bin } });
    assert.equal(o.stdout.toString(), 'found\n');
  });

  it('own session and process group, empty signal mask, default dispositions, only fds 0-2 inherited', async () => {
    const stat = await runChild({ file: '/bin/cat', args: ['/proc/self/stat'] });
    const fields = stat.stdout
      .toString()
      .replace(/^.*\) /, '')
      .split(' ');
    assert.equal(Number(fields[2]), stat.pid, "pgrp is not the child's own pid");
    assert.equal(Number(fields[3]), stat.pid, "session is not the child's own (setsid, as node's detached)");
    const status = await runChild({ file: '/bin/grep', args: ['-E', '^Sig(Blk|Ign)', '/proc/self/status'] });
    // Node ignores SIGPIPE; the child must not inherit that.
    assert.deepEqual(status.stdout.toString().trim().split('\n'), [
      'SigBlk:\t0000000000000000',
      'SigIgn:\t0000000000000000',
    ]);
    const fds = await runChild({ file: '/bin/ls', args: ['/proc/self/fd'] });
    // ls itself opens one descriptor to list the directory.
    const list = fds.stdout.toString().trim().split('\n').map(Number);
    assert.deepEqual(list.slice(0, 3), [0, 1, 2]);
    assert.deepEqual(list, [0, 1, 2, 3], `inherited descriptors: ${list.join(' ')}`);
  });

  it('a missing interpreter, a non-executable file and a missing cwd are error Results at once', () => {
    const { loop } = mustNative(n);
    const launcher = new NativeLauncher(loop);
    const never: ChildEvents = {
      onStdout() {},
      onStdoutEnd() {},
      onStderr() {},
      onStderrEnd() {},
      onStdinDrain() {},
      onSpawnError() {
        assert.fail('onSpawnError');
      },
      onExit() {
        assert.fail('onExit');
      },
      onClose() {
        assert.fail('onClose');
      },
    };
    const base = { args: [], cwd: '/', env: {}, stdin: 'null' as const };
    const before = loop.registered;
    const a = launcher.launch({ ...base, file: '/nonexistent/python3' }, never);
    assert.ok(!a.ok && /ENOENT/.test(a.error), JSON.stringify(a));
    const plain = path.join(dir, 'not-executable');
    fs.writeFileSync(plain, 'echo hi\n', { mode: 0o644 });
    const b = launcher.launch({ ...base, file: plain }, never);
    assert.ok(!b.ok && /EACCES/.test(b.error), JSON.stringify(b));
    const c = launcher.launch({ ...base, file: '/bin/true', cwd: path.join(dir, 'no-such-dir') }, never);
    assert.ok(!c.ok && /ENOENT/.test(c.error), JSON.stringify(c));
    const d = launcher.launch({ ...base, file: 'no-such-command', env: { PATH: dir } }, never);
    assert.equal(d.ok, false);
    const e = launcher.launch({ ...base, file: '/bin/true', env: { 'A=B': 'x' } }, never);
    assert.equal(e.ok, false);
    // Nothing was left registered or open by the failures.
    assert.equal(loop.registered, before);
    assert.equal(launcher.live, 0);
  });

  it('a child is reaped: no zombie, no descriptor left', async () => {
    const { loop } = mustNative(n);
    const fdsBefore = fs.readdirSync('/proc/self/fd').length;
    const regBefore = loop.registered;
    const o = await runChild({ file: '/bin/true' });
    assert.equal(o.code, 0);
    await until(() => loop.registered === regBefore, 'registrations released');
    assert.equal(fs.existsSync(`/proc/${o.pid}`), false, 'the child is a zombie');
    assert.equal(fs.readdirSync('/proc/self/fd').length, fdsBefore);
  });

  it('stdin closed by the child: the writer hears onStdinDrain and writes are dropped, not thrown', async () => {
    const big = Buffer.alloc(1024 * 1024, 1);
    let writes = 0;
    const o = await runChild(
      { file: '/bin/sh', args: ['-c', 'exec 0<&-; sleep 0.2; echo done'], stdin: 'pipe' },
      (c) => {
        if (c.stdin === null) return;
        while (writes < 8 && c.stdin.write(big)) writes++;
      },
    );
    assert.equal(o.stdout.toString(), 'done\n');
    assert.ok(o.drains >= 1);
  });
});
