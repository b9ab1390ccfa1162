/**
 * contrib/ (README "Run it as a service"), checked by the tools that read each file: `systemd-analyze verify` on the
 * unit, and `logrotate -f` on the rotation rules while clients keep requesting: every request is in the old or the
 * new log exactly once, and SIGUSR1 (what `-s reopen` sends) never opens Node's inspector.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RawClient } from '../helpers/http.js';
import { MAIN, REPO, startServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-contrib-'));
/** The command the files name (/usr/local/bin/localhost), here a wrapper around this build. */
const command = path.join(tmp, 'localhost');
fs.writeFileSync(command, `#!/bin/sh\nexec "${process.execPath}" "${MAIN}" "$@"\n`, { mode: 0o755 });

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A contrib file with the installed paths replaced by this test's. */
function contrib(name: string, replace: Readonly<Record<string, string>>): string {
  let text = fs.readFileSync(path.join(REPO, 'contrib', name), 'utf8');
  for (const [from, to] of Object.entries(replace)) text = text.replaceAll(from, to);
  return text;
}

test('contrib/localhost.service passes systemd-analyze verify with no warning', () => {
  const unit = path.join(tmp, 'localhost.service');
  fs.writeFileSync(unit, contrib('localhost.service', { '/usr/local/bin/localhost': command }));
  const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'systemd-analyze printed warnings');
  const text = fs.readFileSync(unit, 'utf8');
  for (const line of ['Type=exec', 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'ProtectSystem=strict'])
    assert.ok(text.includes(`\n${line}\n`), line);
  assert.match(text, /^ExecReload=.* -s reload$/m);
});

test('contrib/logrotate under load: logrotate -f loses no access-log line and opens no debugger', async () => {
  const logs = path.join(tmp, 'logs');
  fs.mkdirSync(logs, { mode: 0o755 });
  const srv = await startServer({
    config:
      `pid {DIR}/localhost.pid\n` +
      `server {\n  listen 127.0.0.1:{PORT}\n  access_log ${logs}/access.log\n  location / {\n    root {DIR}/www\n  }\n}\n`,
    files: { 'www/index.html': 'rotate me\n' },
  });
  const conf = path.join(tmp, 'logrotate.conf');
  fs.writeFileSync(
    conf,
    contrib('logrotate', {
      '/var/log/localhost': logs,
      '/usr/local/bin/localhost': command,
      '/etc/localhost/localhost.conf': path.join(srv.dir, 'test.conf'),
    }),
  );
  let sent = 0;
  let rotated = false;
  try {
    // Four keep-alive clients request in a loop; logrotate runs once about 1,000 requests have been logged.
    const clients = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(srv.port)));
    const rotation = (async (): Promise<void> => {
      await until(() => sent >= 1000, 'a thousand requests before the rotation', 30_000);
      const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn('logrotate', ['-f', '-s', path.join(tmp, 'logrotate.state'), conf], { stdio: 'pipe' });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (out += d.toString()));
        p.once('exit', (code) => resolve({ code, out }));
      });
      assert.equal(r.code, 0, r.out);
      rotated = true;
    })();
    await Promise.all(
      clients.map(async (c) => {
        // Requests go on through the rotation and until 1,000 more have been answered after it.
        for (let after = 0; !rotated || after < 250;) {
          c.send(`GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n`);
          const res = await c.read();
          assert.equal(res.status, 200);
          sent++;
          if (rotated) after++;
        }
        c.close();
      }),
    );
    await rotation;
    const old = path.join(logs, 'access.log.1');
    assert.ok(fs.existsSync(old), `rotated file: ${fs.readdirSync(logs).join(' ')}`);
    // Lines written after the signal go to the new file; wait until every request is accounted for.
    const count = (): number =>
      [old, path.join(logs, 'access.log')]
        .filter((f) => fs.existsSync(f))
        .reduce(
          (n, f) =>
            n +
            fs
              .readFileSync(f, 'utf8')
              .split('\n')
              .filter((l) => l.includes('GET /index.html')).length,
          0,
        );
    await until(() => count() >= sent, `${sent} access-log lines`, 10_000);
    assert.equal(count(), sent, 'every request logged exactly once across the two files');
    assert.ok(
      fs.readFileSync(path.join(logs, 'access.log'), 'utf8').length > 0,
      'the reopened log has the later lines',
    );
    // SIGUSR1 reopened the logs; Node's inspector (port 9229) is not listening, and the server never said so.
    const inspector = execFileSync('ss', ['-ltnH', 'sport = :9229'], { encoding: 'utf8' }).trim();
    assert.equal(inspector, '');
    assert.doesNotMatch(srv.output(), /Debugger listening/);
  } finally {
    await srv.stop();
  }
});
