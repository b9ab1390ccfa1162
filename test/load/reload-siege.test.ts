/**
 * `-s reload` while siege runs (README "Operating it"): the configuration is re-read three times, each with a new
 * `add_header` value, under 20 concurrent keep-alive clients. siege must see 100 % availability and no failed
 * transaction, and after each reload new requests carry the new header value. With `worker_processes 2` the master
 * replaces its workers instead: the same must hold.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { get } from '../helpers/http.js';
import { MAIN, startServer } from '../helpers/server.js';
import { retryHungSiege, siege } from '../helpers/siege.js';
import { valueOf } from '../helpers/wait.js';

const configFor = (workers: number, generation: number): string =>
  `pid {DIR}/localhost.pid\nworker_processes ${workers}\n` +
  `server {\n  listen 127.0.0.1:{PORT}\n  location / {\n    root {DIR}/www\n    add_header X-Generation ${generation}\n  }\n}\n`;

for (const workers of [1, 2]) {
  test(`-s reload x3 under siege (worker_processes ${workers}): 0 failed, 100 % available, the new config serves`, (t) =>
    retryHungSiege(t, () => reloadThrice(t, workers)));
}

/** Three reloads, 1.5 s apart, under siege -c20 -t8S. */
async function reloadThrice(t: TestContext, workers: number): Promise<void> {
  const srv = await startServer({
    config: configFor(workers, 0),
    files: { 'www/index.html': '<p>reloading</p>\n'.repeat(64), 'www/app.css': 'p { color: red }\n' },
  });
  const conf = path.join(srv.dir, 'test.conf');
  try {
    const base = `http://127.0.0.1:${srv.port}`;
    const run = siege(srv.dir, [`${base}/index.html`, `${base}/app.css`], { concurrency: 20, seconds: 8 });
    for (let generation = 1; generation <= 3; generation++) {
      await new Promise((resolve) => setTimeout(resolve, 1500)); // siege is running; space the reloads out
      // The config text uses the ports the server already listens on: only the header changes.
      const text = fs.readFileSync(conf, 'utf8').replace(/X-Generation \d+/, `X-Generation ${generation}`);
      fs.writeFileSync(conf, text);
      const r = spawnSync(process.execPath, [MAIN, '-c', conf, '-s', 'reload'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      await valueOf(
        `generation ${generation} served`,
        async () => {
          const res = await get(srv.port, '/app.css');
          return res.header('x-generation') === String(generation) ? true : undefined;
        },
        10_000,
      );
    }
    const { report, alerts, out } = await run.done;
    t.diagnostic(
      `siege -c20 -t8s, 3 reloads: ${report.transactions} transactions, ${report.failed_transactions} failed, ` +
        `availability ${report.availability} %`,
    );
    assert.ok(report.transactions > 1000, `only ${report.transactions} transactions:\n${out}`);
    assert.equal(report.failed_transactions, 0, out);
    assert.equal(report.availability, 100, out);
    assert.deepEqual(alerts, [], out);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
}
