import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tokenize, type Token } from '../../src/config/lexer.js';

const FILE = '/etc/localhost/test.conf';

/** Compact view of tokens: kind, value (words only), line:col. */
function view(text: string): string[] {
  return tokenize(text, FILE).tokens.map((t: Token) => {
    const where = `${t.pos.line}:${t.pos.col}`;
    if (t.kind === 'word') return `${t.quoted ? 'q' : 'w'}(${t.value})@${where}`;
    return `${t.kind}@${where}`;
  });
}

function errors(text: string): string[] {
  return tokenize(text, FILE).errors.map((e) => `${e.pos.line}:${e.pos.col} ${e.detail}`);
}

describe('config lexer', () => {
  it('splits words on whitespace and records 1-based lines and columns', () => {
    assert.deepEqual(view('host 127.0.0.1\n  port 80 81\n'), [
      'w(host)@1:1',
      'w(127.0.0.1)@1:6',
      'eol@1:15',
      'w(port)@2:3',
      'w(80)@2:8',
      'w(81)@2:11',
      'eol@2:13',
      'eof@3:1',
    ]);
    assert.deepEqual(tokenize('a', FILE).tokens[0]?.pos, { file: FILE, line: 1, col: 1 });
  });

  it('skips comments, whole-line and trailing, including one glued to a word', () => {
    assert.deepEqual(view('# intro\nport 80 # web\nport 81#x\n'), [
      'eol@1:8',
      'w(port)@2:1',
      'w(80)@2:6',
      'eol@2:14',
      'w(port)@3:1',
      'w(81)@3:6',
      'eol@3:10',
      'eof@4:1',
    ]);
  });

  it('makes braces tokens even when glued to words', () => {
    assert.deepEqual(view('server{\nlocation /a{root x}}'), [
      'w(server)@1:1',
      '{@1:7',
      'eol@1:8',
      'w(location)@2:1',
      'w(/a)@2:10',
      '{@2:12',
      'w(root)@2:13',
      'w(x)@2:18',
      '}@2:19',
      '}@2:20',
      'eof@2:21',
    ]);
  });

  it('makes ";" a token that ends a glued word', () => {
    assert.deepEqual(view('root ./www;port 1 ;'), [
      'w(root)@1:1',
      'w(./www)@1:6',
      ';@1:11',
      'w(port)@1:12',
      'w(1)@1:17',
      ';@1:19',
      'eof@1:20',
    ]);
  });

  it('reads quoted values with spaces, #, braces and the escapes \\" and \\\\', () => {
    const text = 'root "./my site" "a#b{;}" "say \\"hi\\"" "c:\\\\d" "x\\ny"';
    assert.deepEqual(view(text), [
      'w(root)@1:1',
      'q(./my site)@1:6',
      'q(a#b{;})@1:18',
      'q(say "hi")@1:27',
      'q(c:\\d)@1:40',
      'q(x\\ny)@1:48',
      'eof@1:54',
    ]);
    assert.deepEqual(errors(text), []);
  });

  it('keeps a quoted brace a word, so it never opens a block', () => {
    const [, brace] = tokenize('x "{"', FILE).tokens;
    assert.equal(brace?.kind, 'word');
    assert.equal(brace?.value, '{');
    assert.equal(brace?.quoted, true);
  });

  it('counts a tab as one column', () => {
    assert.deepEqual(view('\thost\t\tx'), ['w(host)@1:2', 'w(x)@1:8', 'eof@1:9']);
  });

  it('treats CRLF as one line break and skips a byte-order mark', () => {
    assert.deepEqual(view('\uFEFFport 1\r\nhost x\r\n'), [
      'w(port)@1:1',
      'w(1)@1:6',
      'eol@1:8',
      'w(host)@2:1',
      'w(x)@2:6',
      'eol@2:8',
      'eof@3:1',
    ]);
  });

  it('reports an unterminated quote at the quote and goes on with the next line', () => {
    const text = 'server {\n  root "./www\n  port 80\n}';
    assert.deepEqual(errors(text), ['2:8 unterminated quoted string: expected a closing " on the same line']);
    assert.deepEqual(view(text).slice(4, 8), ['q(./www)@2:8', 'eol@2:14', 'w(port)@3:3', 'w(80)@3:8']);
  });

  it('reports an unterminated quote at the end of the file', () => {
    assert.deepEqual(errors('root "abc'), ['1:6 unterminated quoted string: expected a closing " on the same line']);
  });

  it('wants a delimiter after a closing quote', () => {
    assert.deepEqual(errors('root "a"b'), ['1:9 expected a space after the closing quote']);
    assert.deepEqual(errors('root "a";'), []);
    assert.deepEqual(errors('root "a"}'), []);
  });

  it('rejects a quote in the middle of a word', () => {
    assert.deepEqual(errors('root ab"c d"'), [
      '1:8 unexpected " inside a word: quote the whole value instead',
      '1:12 unexpected " inside a word: quote the whole value instead',
    ]);
  });

  it('ends with eof placed just after the last character', () => {
    assert.deepEqual(view(''), ['eof@1:1']);
    assert.deepEqual(view('ab\n\n'), ['w(ab)@1:1', 'eol@1:3', 'eol@2:1', 'eof@3:1']);
  });

  it('counts a character outside the BMP as one column', () => {
    assert.deepEqual(view('"\u{1F600}" x'), ['q(\u{1F600})@1:1', 'w(x)@1:5', 'eof@1:6']);
  });
});
