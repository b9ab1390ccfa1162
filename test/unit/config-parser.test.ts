import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse, type DirectiveNode } from '../../src/config/parser.js';

const FILE = '/etc/localhost/test.conf';

/** A compact, position-bearing picture of the tree: "name@l:c(arg@l:c ...){...}". */
function show(nodes: readonly DirectiveNode[]): string[] {
  return nodes.map((n) => {
    const args = n.args.map((a) => `${a.value}@${a.pos.line}:${a.pos.col}`).join(' ');
    const head = `${n.name}@${n.pos.line}:${n.pos.col}(${args})`;
    return n.block === null ? head : `${head}{${show(n.block.directives).join('; ')}}`;
  });
}

function tree(text: string): string[] {
  const result = parse(text, FILE);
  assert.deepEqual(
    result.errors.map((e) => e.message),
    [],
  );
  return show(result.directives);
}

function errors(text: string): string[] {
  return parse(text, FILE).errors.map((e) => `${e.pos.line}:${e.pos.col} ${e.detail}`);
}

describe('config parser', () => {
  it('builds nested blocks with the positions of names and arguments', () => {
    const text = 'server {\n  host 127.0.0.1\n  location /a {\n    root ./www\n  }\n}\n';
    assert.deepEqual(tree(text), [
      'server@1:1(){host@2:3(127.0.0.1@2:8); location@3:3(/a@3:12){root@4:5(./www@4:10)}}',
    ]);
    const server = parse(text, FILE).directives[0];
    assert.deepEqual(server?.block?.open, { file: FILE, line: 1, col: 8 });
    assert.deepEqual(server?.block?.close, { file: FILE, line: 6, col: 1 });
  });

  it('ends directives at ";" so several fit on one line', () => {
    assert.deepEqual(tree('server { host 1.2.3.4; port 80 81; }'), [
      'server@1:1(){host@1:10(1.2.3.4@1:15); port@1:24(80@1:29 81@1:32)}',
    ]);
  });

  it('ends a directive before "}" and lets another follow a closing brace', () => {
    assert.deepEqual(tree('server { location / { root x } port 1 }'), [
      'server@1:1(){location@1:10(/@1:19){root@1:23(x@1:28)}; port@1:32(1@1:37)}',
    ]);
  });

  it('accepts glued braces', () => {
    assert.deepEqual(tree('server{\nlocation /x{root y}}'), ['server@1:1(){location@2:1(/x@2:10){root@2:13(y@2:18)}}']);
  });

  it('accepts the "{" of a block on the next line', () => {
    assert.deepEqual(tree('server\n{\n  port 1\n}'), ['server@1:1(){port@3:3(1@3:8)}']);
  });

  it('keeps quoted arguments as single values', () => {
    assert.deepEqual(tree('root "./my www" # note\n'), ['root@1:1(./my www@1:6)']);
  });

  it('parses an empty file and a comment-only file to nothing', () => {
    assert.deepEqual(tree(''), []);
    assert.deepEqual(tree('# nothing\n\n   # here\n'), []);
  });

  it('reports "}" with no open block', () => {
    assert.deepEqual(errors('server { port 1 }\n}\n'), ['2:1 unexpected "}": there is no open block to close']);
  });

  it('reports the end of file inside a block, naming where it opened', () => {
    assert.deepEqual(errors('server {\n  port 1\n'), [
      '3:1 unexpected end of file: expected "}" to close the server block opened at 1:8',
    ]);
  });

  it('names the innermost unclosed block', () => {
    assert.deepEqual(errors('server {\n  location / {\n    root x'), [
      '3:11 unexpected end of file: expected "}" to close the location block opened at 2:14',
    ]);
  });

  it('points at the block whose "}" went missing when the indentation tells', () => {
    const text = 'server {\n  location / {\n    root x\n\n  location /b {\n    root y\n  }\n}\n';
    assert.deepEqual(errors(text), [
      '9:1 unexpected end of file: expected "}" to close the server block opened at 1:8' +
        ' (the location at 2:3 may be the one missing its "}")',
    ]);
  });

  it('reports a stray ";"', () => {
    assert.deepEqual(errors('server { port 1;; }'), ['1:17 unexpected ";": there is no directive to end']);
  });

  it('reports a "{" with no directive and skips its block', () => {
    const result = parse('{ port 1 }\nserver { }', FILE);
    assert.deepEqual(
      result.errors.map((e) => `${e.pos.line}:${e.pos.col} ${e.detail}`),
      ['1:1 unexpected "{": a block must follow a directive, as in "server {"'],
    );
    assert.deepEqual(show(result.directives), ['server@2:1(){}']);
  });

  it('merges lexer and parser errors in source order', () => {
    assert.deepEqual(errors('}\nroot "x\n;'), [
      '1:1 unexpected "}": there is no open block to close',
      '2:6 unterminated quoted string: expected a closing " on the same line',
      '3:1 unexpected ";": there is no directive to end',
    ]);
  });
});
