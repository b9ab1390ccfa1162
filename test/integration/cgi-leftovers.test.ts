/**
 * What a CGI script leaves behind (issue 13): once its response is complete and it has exited, whatever is left in
 * its process group gets SIGTERM, then SIGKILL 2 s later; a client that leaves kills the group at once. Through
 * real sockets and real python3; the grandchildren's pids come from the script and their group from /proc.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { RawClient, rawRequest } from '../helpers/http.js';

const PY = '/usr/bin/python3';

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  cgi_timeout 5s
  location /cgi-bin {
    methods GET
    root {DIR}/cgi-bin
    cgi .py ${PY}
  }
}
`;

/**
 * Forks 5 children that sleep 30 s (with SIGTERM ignored when the query says "ignore"), with their stdio on
 * /dev/null so the response can end; writes "SCRIPT_PID CHILD_PID..." to pids-QUERY.txt, answers, exits.
 */
const FORKER = `import os, signal, sys, time
mode = os.environ.get("QUERY_STRING", "term")
sys.stdout.flush()
kids = []
for i in range(5):
    pid = os.fork()
    if pid == 0:
        if mode == "ignore":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        time.sleep(30)
        os._exit(0)
    kids.append(pid)
with open(os.path.join(os.environ["DOCUMENT_ROOT"], "pids-%s.txt" % mode), "w") as f:
    f.write(" ".join(str(p) for p in [os.getpid()] + kids))
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\nforked %d\\n" % len(kids))
`;

/** Exits at once, leaving a child that writes the body: 30 lines over 3 s (longer than the 2 s grace). */
const HANDOFF = `import os, sys, time
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n")
sys.stdout.flush()
if os.fork() == 0:
    for i in range(30):
        sys.stdout.write("line %d\\n" % i)
        sys.stdout.flush()
        time.sleep(0.1)
    os._exit(0)
`;

/** Streams 20 lines over 2 s; its child (SIGTERM ignored, stdio on /dev/null) records its pid and sleeps. */
const STREAMER = `import os, signal, sys, time
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    time.sleep(30)
    os._exit(0)
with open(os.path.join(os.environ["DOCUMENT_ROOT"], "pids-stream.txt"), "w") as f:
    f.write("%d %d" % (os.getpid(), pid))
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n")
for i in range(20):
    sys.stdout.write("line %d\\n" % i)
    sys.stdout.flush()
    time.sleep(0.1)
`;

let srv: RunningServer;

before(async () => {
  srv = await startServer({
    config: CONFIG,
    files: { 'cgi-bin/forker.py': FORKER, 'cgi-bin/handoff.py': HANDOFF, 'cgi-bin/streamer.py': STREAMER },
  });
});

after(async () => {
  await srv.stop();
});

/** /proc/PID/stat fields after the command: [state, ppid, pgrp, ...]; null when the process is gone. */
function stat(pid: number): string[] | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Alive (not gone, not a zombie) and still in process group `pgid`. */
function inGroup(pid: number, pgid: number): boolean {
  const f = stat(pid);
  return f !== null && f[0] !== 'Z' && Number(f[2]) === pgid;
}

/** The pids the script wrote: its own (its process group's id) and its children's. */
function pidsOf(name: string): { script: number; kids: number[] } {
  const [script = 0, ...kids] = fs
    .readFileSync(path.join(srv.dir, 'cgi-bin', name), 'utf8')
    .trim()
    .split(' ')
    .map(Number);
  assert.ok(script > 0 && kids.every((k) => k > 0), `bad pid file ${name}`);
  return { script, kids };
}

/** Polls until `cond` holds; resolves with the time it took, fails after `ms`. */
async function waitFor(what: string, cond: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

/** SIGKILL by pid to whatever of `pids` still runs, so that a failed test leaves nothing behind. */
function cleanUp(pids: readonly number[]): void {
  for (const p of pids) {
    try {
      if (stat(p) !== null) process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

describe('what a finished script leaves in its process group', () => {
  test('children that obey SIGTERM are gone right after the response', async () => {
    const res = await rawRequest(
      srv.port,
      'GET /cgi-bin/forker.py?term HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'forked 5\n');
    const { script, kids } = pidsOf('pids-term.txt');
    try {
      assert.equal(kids.length, 5);
      // They were forked into the script's own group (the server made the script a group leader).
      for (const k of kids) {
        const f = stat(k);
        assert.ok(f === null || Number(f[2]) === script, `child ${k} not in group ${script}`);
      }
      const ms = await waitFor('the children to be gone', () => kids.every((k) => !inGroup(k, script)), 1500);
      assert.ok(ms < 1000, `children ended ${ms} ms after the response`);
    } finally {
      cleanUp(kids);
    }
  });

  test('children that ignore SIGTERM get SIGKILL 2 s later: alive at 1 s, gone by 2.5 s', async () => {
    const t0 = Date.now();
    const res = await rawRequest(
      srv.port,
      'GET /cgi-bin/forker.py?ignore HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    assert.equal(res.status, 200);
    const { script, kids } = pidsOf('pids-ignore.txt');
    try {
      assert.equal(kids.length, 5);
      for (const k of kids)
        assert.ok(inGroup(k, script), `child ${k} should be running in group ${script} right after the response`);
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() - t0)));
      // SIGTERM came and went: the grace period is real, the kill is not immediate.
      assert.ok(
        kids.every((k) => inGroup(k, script)),
        'children that ignore SIGTERM were killed before the grace period ended',
      );
      await waitFor('the children to be gone', () => kids.every((k) => !inGroup(k, script)), 2500 - (Date.now() - t0));
    } finally {
      cleanUp(kids);
    }
  });

  test('four requests leave no children behind', async () => {
    const pairs: Array<{ kid: number; group: number }> = [];
    try {
      for (let i = 0; i < 4; i++) {
        const res = await rawRequest(
          srv.port,
          'GET /cgi-bin/forker.py?ignore HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
        );
        assert.equal(res.status, 200);
        const { script, kids } = pidsOf('pids-ignore.txt');
        for (const kid of kids) pairs.push({ kid, group: script });
      }
      assert.equal(pairs.length, 20);
      assert.ok(
        pairs.some((p) => inGroup(p.kid, p.group)),
        "the last request's children should still be in their grace period",
      );
      await waitFor('all 20 children to be gone', () => pairs.every((p) => !inGroup(p.kid, p.group)), 3000);
    } finally {
      cleanUp(pairs.map((p) => p.kid));
    }
  });
});

describe('what is not cut', () => {
  test('a child that writes the body after the script exited is read to its end', async () => {
    const t0 = Date.now();
    const res = await rawRequest(
      srv.port,
      'GET /cgi-bin/handoff.py HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      { timeoutMs: 10_000 },
    );
    assert.equal(res.status, 200);
    const lines = res.body.toString().trim().split('\n');
    assert.equal(lines.length, 30, res.body.toString());
    assert.equal(lines[29], 'line 29');
    assert.ok(Date.now() - t0 >= 2900, 'the body took its 3 s');
  });

  test('a long streamed response is not cut; its leftover child is ended after it', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send('GET /cgi-bin/streamer.py HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      const res = await c.read({ timeoutMs: 10_000 });
      assert.equal(res.status, 200);
      assert.equal(res.body.toString().trim().split('\n').length, 20);
    } finally {
      c.close();
    }
    const { script, kids } = pidsOf('pids-stream.txt');
    try {
      assert.equal(kids.length, 1);
      await waitFor('the leftover child to be gone', () => kids.every((k) => !inGroup(k, script)), 2500);
    } finally {
      cleanUp(kids);
    }
  });
});

describe('a client that leaves', () => {
  test('kills the whole group at once, SIGTERM-ignoring children too', async () => {
    const c = await RawClient.connect(srv.port);
    c.send('GET /cgi-bin/streamer.py HTTP/1.1\r\nHost: localhost\r\n\r\n');
    // The head and the first line: the script runs, and has written its pids before its first line.
    await new Promise<void>((resolve) => c.socket.once('data', () => resolve()));
    const { script, kids } = pidsOf('pids-stream.txt');
    try {
      assert.ok(kids.length === 1 && kids.every((k) => inGroup(k, script)), 'the child runs in the script group');
      c.close();
      const ms = await waitFor(
        'the script and its child to be gone',
        () => !inGroup(script, script) && kids.every((k) => !inGroup(k, script)),
        1500,
      );
      assert.ok(ms < 1000, `group ended ${ms} ms after the client left`);
    } finally {
      cleanUp([script, ...kids]);
    }
  });
});
