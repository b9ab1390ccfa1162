/** router/variables.ts: templates compile once and expand from a request's facts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTemplate, expand, queryArgument, type VarContext } from '../../src/router/variables.js';

const ctx: VarContext = {
  scheme: 'http',
  host: 'example.test',
  serverName: 'main.test',
  serverPort: 8080,
  requestUri: '/a%20b?x=1&Y=2',
  uri: '/a b',
  args: 'x=1&Y=2',
  remoteAddr: '10.0.0.1',
  realipRemoteAddr: '192.0.2.1',
  method: 'GET',
  headers: new Map([
    ['user-agent', 'curl'],
    ['cookie', 'sid=abc; theme=dark'],
  ]),
  documentRoot: '/srv/www',
  realpathRoot: () => '/real/www',
  captures: ['/full', 'one', 'two'],
  status: 404,
};

const run = (src: string, status = false): string => {
  const t = compileTemplate(src, status);
  if (!t.ok) throw new Error(t.error.message);
  return expand(t.value, ctx);
};

test('named variables', () => {
  assert.equal(run('$scheme://$host:$server_port$request_uri'), 'http://example.test:8080/a%20b?x=1&Y=2');
  assert.equal(
    run('$uri|$args|$is_args|$remote_addr|$request_method|$server_name'),
    '/a b|x=1&Y=2|?|10.0.0.1|GET|main.test',
  );
  assert.equal(run('$document_root $realpath_root'), '/srv/www /real/www');
  assert.equal(run('${uri}x'), '/a bx');
  assert.equal(run('$status', true), '404');
});

test('families: $arg_ (case-insensitive name), $http_ ("_" is "-"), $cookie_', () => {
  assert.equal(run('$arg_x $arg_y $arg_zz'), '1 2 ');
  assert.equal(run('$http_user_agent'), 'curl');
  assert.equal(run('$cookie_theme'), 'dark');
});

test('captures are one digit; a lone $ is text', () => {
  assert.equal(run('$1-$2-$3$12'), 'one-two-one2');
  assert.equal(run('price$'), 'price$');
});

test('unknown names are refused with their offset', () => {
  const t = compileTemplate('ab $nope');
  assert.ok(!t.ok);
  assert.equal(t.error.offset, 3);
  assert.ok(!compileTemplate('${uri').ok);
  assert.ok(!compileTemplate('$status').ok);
});

test('queryArgument', () => {
  assert.equal(queryArgument('a=1&b=&c', 'b'), '');
  assert.equal(queryArgument('a=1&a=2', 'A'), '1');
  assert.equal(queryArgument('', 'a'), '');
});
