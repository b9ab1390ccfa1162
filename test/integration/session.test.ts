/**
 * Cookies and server-side sessions through real sockets and CGI (DESIGN §7): the sid cookie, SESSION_ID and
 * SESSION_DATA in scripts, X-Session-Data / X-Session-End from scripts, separate clients, logout, and the caps.
 * Sessions are lazy (DESIGN §9): stored, and their cookie sent, only once something is written into them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { REPO, startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest, type RawResponse } from '../helpers/http.js';

const run = promisify(execFile);

const SESSION_MAX = 100;
const PER_ADDRESS = 10;

const IDLE_MS = 400;

const CONFIG = `server {
  host 127.0.0.1
  port {PORT2}
  session_timeout ${IDLE_MS}ms
  location /s {
    methods GET
    root {DIR}/www
    session on
  }
  location /cgi-bin {
    root {DIR}/cgi-bin
    cgi .py /usr/bin/python3
    session on
  }
}
server {
  host 127.0.0.1
  port {PORT}
  session_max ${SESSION_MAX}
  session_max_per_address ${PER_ADDRESS}
  location / {
    methods GET
    root {DIR}/www
  }
  location /s {
    methods GET
    root {DIR}/www
    session on
  }
  location /cgi-bin {
    methods GET POST
    root {DIR}/cgi-bin
    cgi .py /usr/bin/python3
    session on
  }
  location /plain-cgi {
    methods GET
    root {DIR}/cgi-bin
    cgi .py /usr/bin/python3
  }
}
`;

const SID_COOKIE = /^sid=([A-Za-z0-9_-]{22}); Path=\/; HttpOnly; SameSite=Lax$/;

let srv: RunningServer;
let base = '';

before(async () => {
  const files: Record<string, string | Buffer> = { 'www/index.html': 'home\n' };
  for (const name of ['session.py', 'env.py'])
    files[`cgi-bin/${name}`] = fs.readFileSync(path.join(REPO, 'cgi-bin', name));
  srv = await startServer({ config: CONFIG, files });
  base = `http://127.0.0.1:${srv.port}`;
});

after(async () => {
  await srv.stop();
});

/** The sid a response sets, or null; fails on a Set-Cookie of another shape. */
function setSid(res: RawResponse): string | null {
  const all = res.headers.get('set-cookie') ?? [];
  assert.ok(all.length <= 1, `several Set-Cookie: ${all.join(' | ')}`);
  if (all.length === 0) return null;
  const m = SID_COOKIE.exec(all[0]!);
  assert.ok(m !== null, `unexpected Set-Cookie ${all[0]}`);
  return m[1]!;
}

function envOf(res: RawResponse): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of res.body.toString('utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return m;
}

/** curl with a cookie jar, as a browser would keep it; returns the response head. */
async function curl(jar: string, url: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('curl', ['-s', '-c', jar, '-b', jar, '-D', '-', '-o', '/dev/null', ...args, url]);
  return stdout;
}

const visits = (head: string): number => Number(/^X-Visits: (\d+)\r$/m.exec(head)?.[1] ?? NaN);

describe('the sid cookie', () => {
  test('a request that writes nothing into a session sets no cookie (a file, a script that only reads)', async () => {
    assert.equal(setSid(await get(srv.port, '/s/index.html')), null);
    const env = await get(srv.port, '/cgi-bin/env.py');
    assert.equal(setSid(env), null);
    assert.equal(envOf(env).get('SESSION_DATA'), '');
    assert.match(envOf(env).get('SESSION_ID') ?? '', /^[A-Za-z0-9_-]{22}$/, 'a script still sees the id it would get');
  });

  test('a script that writes data gets a fresh sid cookie, a different one per client', async () => {
    const a = setSid(await get(srv.port, '/cgi-bin/session.py'));
    const b = setSid(await get(srv.port, '/cgi-bin/session.py'));
    assert.ok(a !== null && b !== null);
    assert.notEqual(a, b);
  });

  test('locations without sessions set no cookie and scripts see no session', async () => {
    const res = await get(srv.port, '/plain-cgi/env.py');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('set-cookie'), undefined);
    const env = envOf(res);
    assert.equal(env.has('SESSION_ID'), false);
    assert.equal(env.has('SESSION_DATA'), false);
    assert.equal((await get(srv.port, '/index.html')).headers.get('set-cookie'), undefined);
  });

  test('the same cookie reaches the same session; SESSION_ID is the cookie', async () => {
    const first = await get(srv.port, '/cgi-bin/session.py');
    const sid = setSid(first);
    assert.ok(sid !== null);
    const again = await get(srv.port, '/cgi-bin/env.py', { Cookie: `theme=dark; sid=${sid}` });
    assert.equal(setSid(again), null);
    assert.equal(envOf(again).get('SESSION_ID'), sid);
    assert.equal(envOf(again).get('SESSION_DATA'), 'visits=1');
  });

  test('an unknown or malformed sid gets a new session', async () => {
    for (const bad of ['AAAAAAAAAAAAAAAAAAAAAA', 'not-an-id', '']) {
      const res = await get(srv.port, '/cgi-bin/session.py', { Cookie: `sid=${bad}` });
      const sid = setSid(res);
      assert.ok(sid !== null && sid !== bad);
      assert.equal(res.header('x-visits'), '1');
    }
  });
});

describe('session data through CGI', () => {
  test('the session.py counter goes 1, 2, 3 with a cookie jar', async () => {
    const jar = path.join(srv.dir, 'jar-count');
    const h1 = await curl(jar, `${base}/cgi-bin/session.py`);
    assert.match(h1, /^Set-Cookie: sid=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Lax\r$/m);
    assert.equal(visits(h1), 1);
    const h2 = await curl(jar, `${base}/cgi-bin/session.py`);
    assert.equal(visits(h2), 2);
    assert.doesNotMatch(h2, /Set-Cookie/i);
    assert.equal(visits(await curl(jar, `${base}/cgi-bin/session.py`)), 3);
    // X-Session-Data is stored, never forwarded.
    assert.doesNotMatch(h2, /X-Session/i);
  });

  test('a stored name comes back in SESSION_DATA', async () => {
    const jar = path.join(srv.dir, 'jar-name');
    await curl(jar, `${base}/cgi-bin/session.py`, '--data', 'name=Ada Lovelace');
    const { stdout } = await run('curl', ['-s', '-b', jar, `${base}/cgi-bin/env.py`]);
    const data = /^SESSION_DATA=(.*)$/m.exec(stdout)?.[1];
    assert.equal(data, 'visits=1&name=Ada+Lovelace');
  });

  test('two clients never share a session', async () => {
    const a = path.join(srv.dir, 'jar-a');
    const b = path.join(srv.dir, 'jar-b');
    assert.equal(visits(await curl(a, `${base}/cgi-bin/session.py`)), 1);
    assert.equal(visits(await curl(a, `${base}/cgi-bin/session.py`)), 2);
    assert.equal(visits(await curl(b, `${base}/cgi-bin/session.py`)), 1);
    assert.equal(visits(await curl(a, `${base}/cgi-bin/session.py`)), 3);
    assert.equal(visits(await curl(b, `${base}/cgi-bin/session.py`)), 2);
    const sidOf = (jar: string): string => /\tsid\t(\S+)$/m.exec(fs.readFileSync(jar, 'utf8'))?.[1] ?? '';
    assert.notEqual(sidOf(a), '');
    assert.notEqual(sidOf(a), sidOf(b));
  });

  test('logout ends the session: its cookie is expired and the old id no longer works', async () => {
    const first = await get(srv.port, '/cgi-bin/session.py');
    const sid = setSid(first)!;
    assert.equal(first.header('x-visits'), '1');
    const body = 'action=logout';
    const out = await rawRequest(
      srv.port,
      `POST /cgi-bin/session.py HTTP/1.1\r\nHost: x\r\nCookie: sid=${sid}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.equal(out.status, 200);
    assert.equal(out.header('x-visits'), '2');
    assert.equal(out.header('x-session-end'), undefined);
    assert.deepEqual(out.headers.get('set-cookie'), ['sid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax']);
    const after = await get(srv.port, '/cgi-bin/session.py', { Cookie: `sid=${sid}` });
    const fresh = setSid(after);
    assert.ok(fresh !== null && fresh !== sid);
    assert.equal(after.header('x-visits'), '1');
  });
});

describe('idle expiry', () => {
  test('a session idle longer than session_timeout is replaced by a fresh one; an active one is kept', async () => {
    const port = srv.ports[1]!;
    const first = setSid(await get(port, '/cgi-bin/session.py'));
    assert.ok(first !== null);
    // Used within the idle time: kept.
    const kept = await get(port, '/cgi-bin/session.py', { Cookie: `sid=${first}` });
    assert.equal(setSid(kept), null);
    assert.equal(kept.header('x-visits'), '2');
    // Left idle for longer than session_timeout (time passing is what is under test here).
    await new Promise((r) => setTimeout(r, IDLE_MS * 2));
    const expired = await get(port, '/cgi-bin/session.py', { Cookie: `sid=${first}` });
    const next = setSid(expired);
    assert.ok(next !== null && next !== first, 'an expired session must be replaced');
    assert.equal(expired.header('x-visits'), '1');
  });
});

describe('the caps', () => {
  /** Logs a client in through session.py (from `from`): its sid, with visits=1 stored. */
  async function login(from?: string): Promise<string> {
    const res = await get(srv.port, '/cgi-bin/session.py', {}, from);
    const sid = setSid(res);
    assert.ok(sid !== null);
    return sid;
  }
  const visitsWith = async (sid: string, from?: string): Promise<string | undefined> =>
    (await get(srv.port, '/cgi-bin/session.py', { Cookie: `sid=${sid}` }, from)).header('x-visits');

  test('20,000 cookie-less requests store nothing and evict nobody', async () => {
    const victim = await login('127.0.0.2');
    const c = await RawClient.connect(srv.port);
    try {
      const batch = 200;
      for (let i = 0; i < 20_000; i += batch) {
        c.send('GET /s/index.html HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(batch));
        for (let j = 0; j < batch; j++) {
          const res = await c.read();
          assert.equal(res.status, 200);
          assert.equal(setSid(res), null);
        }
      }
    } finally {
      c.close();
    }
    // Scripts that only read the session store nothing either.
    for (let i = 0; i < 20; i++) assert.equal(setSid(await get(srv.port, '/cgi-bin/env.py')), null);
    assert.equal(await visitsWith(victim, '127.0.0.2'), '2', 'the logged-in session was evicted');
  });

  test(`one address holds at most session_max_per_address (${PER_ADDRESS}) sessions: its own oldest go first`, async () => {
    const victim = await login('127.0.0.3');
    const flood: string[] = [];
    for (let i = 0; i < PER_ADDRESS * 2; i++) flood.push(await login('127.0.0.4'));
    assert.equal(await visitsWith(victim, '127.0.0.3'), '2', 'another address pushed the session out');
    for (const sid of flood.slice(-PER_ADDRESS))
      assert.equal(await visitsWith(sid, '127.0.0.4'), '2', `session ${sid} was lost`);
    for (const sid of flood.slice(0, 2))
      assert.equal(await visitsWith(sid, '127.0.0.4'), '1', `session ${sid} outlived the cap`);
  });

  test(`the store holds at most session_max (${SESSION_MAX}): the least recently used go`, async () => {
    // 12 addresses × 10 sessions: 120 sessions for a store of 100.
    const sids: string[] = [];
    for (let a = 10; a < 22; a++) for (let i = 0; i < PER_ADDRESS; i++) sids.push(await login(`127.0.0.${a}`));
    const owner = (i: number): string => `127.0.0.${10 + Math.floor(i / PER_ADDRESS)}`;
    const last = sids.length - 1;
    assert.equal(await visitsWith(sids[last] ?? '', owner(last)), '2', 'the newest session is gone');
    assert.equal(await visitsWith(sids[0] ?? '', owner(0)), '1', 'the oldest session outlived the cap');
  });
});
