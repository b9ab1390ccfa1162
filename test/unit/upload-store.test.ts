import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isTemporaryUpload, PendingFile, sanitizeFilename } from '../../src/handlers/upload-store.js';

/** The process umask, read once (umask() without an argument is deprecated: set it and put it back). */
const UMASK = ((): number => {
  const m = process.umask(0o022);
  process.umask(m);
  return m;
})();

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'upload-store-test-'));
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

let n = 0;
/** A fresh empty directory per test. */
function freshDir(): string {
  const d = path.join(root, `d${n++}`);
  fs.mkdirSync(d);
  return d;
}

function store(dir: string, name: string, content: string): string {
  const f = PendingFile.create(dir, name);
  f.write(Buffer.from(content));
  return f.commit();
}

// --- sanitizeFilename ---

test('sanitize: only the base name is kept', () => {
  assert.equal(sanitizeFilename('../../etc/passwd'), 'passwd');
  assert.equal(sanitizeFilename('C:\\x\\a.txt'), 'a.txt');
  assert.equal(sanitizeFilename('dir/sub\\mixed/name.tar.gz'), 'name.tar.gz');
  assert.equal(sanitizeFilename('plain.txt'), 'plain.txt');
  assert.equal(sanitizeFilename('caf\u00e9 \u20ac.txt'), 'caf\u00e9 \u20ac.txt');
  assert.equal(sanitizeFilename('C:\\Users\\me\\photo.jpg'), 'photo.jpg');
  assert.equal(sanitizeFilename('..\\..\\x.txt'), 'x.txt');
});

test('sanitize: no leading dots, so no hidden file and nothing like the temporary names', () => {
  assert.equal(sanitizeFilename('.hidden'), 'hidden');
  assert.equal(sanitizeFilename('...x.txt'), 'x.txt');
  assert.equal(sanitizeFilename('. .x'), 'x');
  assert.equal(sanitizeFilename('.upload-77.part'), 'upload-77.part');
  assert.equal(isTemporaryUpload(sanitizeFilename('.upload-0123456789abcdef.part') ?? ''), false);
  assert.equal(isTemporaryUpload('.upload-0123456789abcdef.part'), true);
});

test('sanitize: bidirectional controls are removed (no spoofed extensions in listings)', () => {
  assert.equal(sanitizeFilename('photo\u202egpj.exe'), 'photogpj.exe');
  for (const c of [
    '\u202a',
    '\u202b',
    '\u202c',
    '\u202d',
    '\u2066',
    '\u2067',
    '\u2068',
    '\u2069',
    '\u200e',
    '\u200f',
    '\u061c',
  ]) {
    assert.equal(sanitizeFilename(`a${c}b.txt`), 'ab.txt', JSON.stringify(c));
  }
  assert.equal(sanitizeFilename('\u202e'), null);
  assert.equal(sanitizeFilename('x\u0085y'), 'xy'); // C1 controls too
});

test('sanitize: nothing usable gives null', () => {
  assert.equal(sanitizeFilename('..'), null);
  assert.equal(sanitizeFilename('.'), null);
  assert.equal(sanitizeFilename(''), null);
  assert.equal(sanitizeFilename('   '), null);
  assert.equal(sanitizeFilename('a/'), null);
  assert.equal(sanitizeFilename('a/..'), null);
  assert.equal(sanitizeFilename('x\\.'), null);
  assert.equal(sanitizeFilename('\u0000\u0001\u007f'), null);
  assert.equal(sanitizeFilename('.\u0000.'), null);
});

test('sanitize: control characters removed, whitespace trimmed', () => {
  assert.equal(sanitizeFilename('a\u0000b\r\nc\u001f\u007f.txt'), 'abc.txt');
  assert.equal(sanitizeFilename('  spaced name.txt \t'), 'spaced name.txt');
  assert.equal(sanitizeFilename('tab\tin.txt'), 'tabin.txt');
});

test('sanitize: long names truncated to 255 UTF-8 bytes keeping the extension', () => {
  const long = 'a'.repeat(300) + '.txt';
  assert.equal(sanitizeFilename(long), 'a'.repeat(251) + '.txt');
  // Multi-byte characters are never split: 100 x 3 bytes = 300 bytes, 83 fit in 251.
  const euro = '\u20ac'.repeat(100) + '.txt';
  const out = sanitizeFilename(euro) as string;
  assert.equal(out, '\u20ac'.repeat(83) + '.txt');
  assert.equal(Buffer.byteLength(out), 253);
  // An "extension" too long to be one is truncated with the rest.
  const longExt = 'x.' + 'e'.repeat(300);
  assert.equal(sanitizeFilename(longExt), ('x.' + 'e'.repeat(300)).slice(0, 255));
  assert.equal(sanitizeFilename('b'.repeat(255)), 'b'.repeat(255));
});

// --- PendingFile ---

test('commit publishes the content under the name; temp file gone', () => {
  const dir = freshDir();
  const f = PendingFile.create(dir, 'a.txt');
  f.write(Buffer.from('hello '));
  f.write(Buffer.from('world'));
  assert.equal(f.size, 11);
  assert.equal(f.commit(), 'a.txt');
  assert.equal(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8'), 'hello world');
  assert.deepEqual(fs.readdirSync(dir), ['a.txt']);
  f.abort(); // no-op after commit
  assert.deepEqual(fs.readdirSync(dir), ['a.txt']);
});

test('temp files are dot-files named .upload-<hex>.part, invisible until commit', () => {
  const dir = freshDir();
  const f = PendingFile.create(dir, 'b.bin');
  f.write(Buffer.from([1, 2, 3]));
  const entries = fs.readdirSync(dir);
  assert.equal(entries.length, 1);
  assert.match(entries[0] as string, /^\.upload-[0-9a-f]{16}\.part$/);
  assert.deepEqual([...fs.readFileSync(path.join(dir, entries[0] as string))], [1, 2, 3]);
  assert.equal(fs.statSync(path.join(dir, entries[0] as string)).mode & 0o777, 0o644 & ~UMASK);
  f.commit();
  assert.deepEqual(fs.readdirSync(dir), ['b.bin']);
});

test('collisions get numeric suffixes and never overwrite', () => {
  const dir = freshDir();
  assert.equal(store(dir, 'a.txt', 'one'), 'a.txt');
  assert.equal(store(dir, 'a.txt', 'two'), 'a-1.txt');
  assert.equal(store(dir, 'a.txt', 'three'), 'a-2.txt');
  assert.equal(store(dir, 'README', 'r1'), 'README');
  assert.equal(store(dir, 'README', 'r2'), 'README-1');
  assert.equal(store(dir, 'env', 'e1'), 'env');
  assert.equal(store(dir, 'env', 'e2'), 'env-1');
  assert.equal(store(dir, 'x.tar.gz', 't1'), 'x.tar.gz');
  assert.equal(store(dir, 'x.tar.gz', 't2'), 'x.tar-1.gz');
  assert.equal(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8'), 'one');
  assert.equal(fs.readFileSync(path.join(dir, 'a-1.txt'), 'utf8'), 'two');
  assert.equal(fs.readFileSync(path.join(dir, 'a-2.txt'), 'utf8'), 'three');
  assert.equal(fs.readFileSync(path.join(dir, 'README-1'), 'utf8'), 'r2');
  assert.deepEqual(fs.readdirSync(dir).sort(), [
    'README',
    'README-1',
    'a-1.txt',
    'a-2.txt',
    'a.txt',
    'env',
    'env-1',
    'x.tar-1.gz',
    'x.tar.gz',
  ]);
});

test('a name taken while the upload was in progress is not overwritten', () => {
  const dir = freshDir();
  const f = PendingFile.create(dir, 'race.txt');
  f.write(Buffer.from('mine'));
  fs.writeFileSync(path.join(dir, 'race.txt'), 'theirs');
  fs.mkdirSync(path.join(dir, 'race-1.txt')); // a directory is taken too
  assert.equal(f.commit(), 'race-2.txt');
  assert.equal(fs.readFileSync(path.join(dir, 'race.txt'), 'utf8'), 'theirs');
  assert.equal(fs.readFileSync(path.join(dir, 'race-2.txt'), 'utf8'), 'mine');
});

test('suffixes fit a 255-byte name by shortening the stem', () => {
  const dir = freshDir();
  const name = 'n'.repeat(251) + '.txt';
  assert.equal(store(dir, name, '1'), name);
  assert.equal(store(dir, name, '2'), 'n'.repeat(249) + '-1.txt');
});

test('abort leaves no file; twice is safe; write after abort throws', () => {
  const dir = freshDir();
  const f = PendingFile.create(dir, 'gone.txt');
  f.write(Buffer.alloc(100000, 7));
  assert.equal(f.size, 100000);
  f.abort();
  assert.deepEqual(fs.readdirSync(dir), []);
  f.abort();
  assert.deepEqual(fs.readdirSync(dir), []);
  assert.throws(
    () => {
      f.write(Buffer.from('x'));
    },
    { code: 'EBADF' },
  );
  assert.throws(() => f.commit(), { code: 'EBADF' });
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('an empty file can be committed', () => {
  const dir = freshDir();
  const f = PendingFile.create(dir, 'empty');
  assert.equal(f.size, 0);
  assert.equal(f.commit(), 'empty');
  assert.equal(fs.statSync(path.join(dir, 'empty')).size, 0);
});

test('fs errors are thrown as ErrnoException; unsafe names are EINVAL', () => {
  assert.throws(() => PendingFile.create(path.join(root, 'no-such-dir'), 'a.txt'), { code: 'ENOENT' });
  const dir = freshDir();
  assert.throws(() => PendingFile.create(dir, '../escape.txt'), { code: 'EINVAL' });
  assert.throws(() => PendingFile.create(dir, '..'), { code: 'EINVAL' });
  assert.throws(() => PendingFile.create(dir, ''), { code: 'EINVAL' });
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('commit failure (directory removed) throws; abort then cleans up without throwing', () => {
  const dir = freshDir();
  const f = PendingFile.create(dir, 'late.txt');
  f.write(Buffer.from('x'));
  fs.rmSync(dir, { recursive: true });
  assert.throws(() => f.commit(), { code: 'ENOENT' });
  f.abort();
  assert.equal(fs.existsSync(dir), false);
});
