import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { blowfishInitialState, BcryptWork, parseBcrypt } from '../../src/access/crypt/bcrypt.js';
import { parseBasic } from '../../src/access/basic-auth.js';
import { parseUserFile, startCheck, type Check } from '../../src/access/htpasswd.js';
import { ensureHtpasswd } from '../helpers/htpasswd.js';

const finish = (c: Check): boolean => {
  while (!c.step(performance.now() + 50));
  return c.matched();
};

test("Blowfish's initial state is the hexadecimal digits of pi (computed again here)", () => {
  // Machin: pi = 16 atan(1/5) - 4 atan(1/239), in fixed point with 64 guard bits.
  const bits = 1042n * 32n + 64n;
  const one = 1n << bits;
  const atanInv = (x: bigint): bigint => {
    let term = one / x;
    let sum = term;
    const x2 = x * x;
    for (let k = 1n; term !== 0n; k++) {
      term /= x2;
      sum += (k % 2n === 1n ? -1n : 1n) * (term / (2n * k + 1n));
    }
    return sum;
  };
  const pi = 16n * atanInv(5n) - 4n * atanInv(239n);
  const frac = (pi - (3n << bits)) >> 64n;
  const hex = frac.toString(16).padStart(1042 * 8, '0');
  const table = blowfishInitialState();
  assert.equal(table.length, 1042);
  for (let i = 0; i < 1042; i++) assert.equal(table[i], parseInt(hex.slice(8 * i, 8 * i + 8), 16), `word ${i}`);
});

test('every format htpasswd writes checks out, and a wrong password does not', () => {
  ensureHtpasswd();
  const cases: [string[], string][] = [
    [['-B'], 'bcrypt pass'],
    [['-B', '-C', '4'], ''],
    [['-B', '-C', '4'], 'x'.repeat(80)],
    [['-m'], 'pässwörd'],
    [['-s'], 'a:b'],
    [['-2'], 'sha-256'],
    [['-5'], 'sha-512'],
    [['-2', '-r', '1234'], 'rounds'],
  ];
  let text = '';
  cases.forEach(([flags, pw], i) => {
    text += execFileSync('htpasswd', ['-nb', ...flags, `u${i}`, pw], { encoding: 'utf8' }).trim() + '\n';
  });
  const parsed = parseUserFile(text);
  assert.deepEqual(parsed.errors, []);
  cases.forEach(([flags, pw], i) => {
    const stored = parsed.users.get(`u${i}`);
    assert.ok(stored !== undefined);
    assert.equal(finish(startCheck(stored, Buffer.from(pw))), true, `${flags.join(' ')} ${pw}`);
    assert.equal(finish(startCheck(stored, Buffer.from('!' + pw))), false, `${flags.join(' ')} wrong`);
  });
  // bcrypt uses 72 bytes of the password at most.
  const long = parsed.users.get('u2');
  assert.ok(long !== undefined);
  assert.equal(finish(startCheck(long, Buffer.from('x'.repeat(72) + 'different tail'))), true);
});

test('a bcrypt check runs in slices: an early deadline returns unfinished; cost 10 is measured', () => {
  ensureHtpasswd();
  const line = execFileSync('htpasswd', ['-nbB', '-C', '10', 'u', 'pw'], { encoding: 'utf8' }).trim();
  const h = parseBcrypt(line.slice(2));
  assert.ok(h !== null);
  const w = new BcryptWork(Buffer.from('pw'), h);
  const t0 = performance.now();
  let slices = 0;
  let longest = 0;
  let first = 0;
  const times: number[] = [];
  for (;;) {
    // CPU time, not wall time: the machine is shared, and a slice preempted by another process held nothing of ours.
    const c = process.cpuUsage();
    const done = w.step(performance.now() + 2);
    const d = process.cpuUsage(c);
    const ms = (d.user + d.system) / 1000;
    if (slices === 0) first = ms;
    else longest = Math.max(longest, ms);
    times.push(ms);
    slices++;
    if (done) break;
  }
  const total = performance.now() - t0;
  assert.equal(w.result(), h.text);
  assert.ok(slices > 10, `cost 10 in ${slices} slices`);
  // A slice overshoots its 2 ms by one round (two key expansions); the first slice of the process also pays for
  // compiling the loop (reported, not bounded); a shared machine may preempt us, hence the margin.
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? 0;
  assert.ok(median < 4, `median slice ${median.toFixed(1)} ms of CPU`);
  assert.ok(longest < total / 4, `longest slice ${longest.toFixed(1)} ms of ${total.toFixed(0)}`);
  console.log(
    `# bcrypt cost 10: ${total.toFixed(0)} ms in ${slices} slices, first ${first.toFixed(1)} ms, median ${median.toFixed(1)} ms, then at most ${longest.toFixed(1)} ms`,
  );
});

test('user file lines: comments and blanks skipped, bad lines named, the first line of a user wins', () => {
  const r = parseUserFile(
    '# c\n\nalice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=:comment\nbob\nalice:$apr1$x$y\ncarol:plain\n',
  );
  assert.deepEqual(
    r.errors.map((e) => [e.line, e.col]),
    [
      [4, 1],
      [5, 7],
      [6, 7],
    ],
  );
  assert.equal(r.users.get('alice')?.kind, 'sha1');
});

test('Authorization: Basic parsing (RFC 7617)', () => {
  const b64 = Buffer.from('al:ice:pw').toString('base64');
  const p = parseBasic(`Basic ${b64}`);
  assert.equal(p?.user, 'al');
  assert.equal(p?.password.toString(), 'ice:pw');
  assert.equal(parseBasic(`basic   ${b64}`)?.user, 'al');
  assert.equal(parseBasic(`Bearer ${b64}`), null);
  assert.equal(parseBasic('Basic !!!'), null);
  assert.equal(parseBasic(`Basic ${Buffer.from('nocolon').toString('base64')}`), null);
});
