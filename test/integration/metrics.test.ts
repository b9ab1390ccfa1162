/**
 * `metrics on` (issue 19): the Prometheus text format, version 0.0.4. A known mix of requests (7 GET 200, 3 GET
 * 404, 2 HEAD, 1 POST 405, two CGI runs of which one fails; on a second server a file, a script that stores a
 * session, and a proxy to an upstream that refuses) gives exact counters, bytes in and out that match the
 * bytes on the wire, a consistent histogram, and output `promtool check metrics` accepts without a lint problem;
 * HEAD is answered without a body, POST gets 405 with Allow, `status on` still answers beside it, `metrics maybe`
 * is a FILE:LINE:COL error, and under `worker_processes 2` the sums cover both workers and survive one's death.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAIN, startServer, type RunningServer } from '../helpers/server.js';
import { get } from '../helpers/http.js';
import { becomes, until } from '../helpers/wait.js';

const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;
const NO_PROMTOOL = PROMTOOL ? false : 'promtool is not installed (apt-get install prometheus)';

const CONFIG = `server {
  listen 127.0.0.1:{PORT}
  server_name metrics.test
  location / {
    root {DIR}/www
  }
  location /cgi-bin {
    root {DIR}/cgi-bin
    cgi .sh /bin/sh
  }
  location /metrics {
    metrics on
  }
  location /status {
    status on
  }
}
server {
  listen 127.0.0.1:{PORT2}
  cgi_timeout 1s
  location / {
    root {DIR}/www
  }
  location /session {
    root {DIR}/cgi-bin
    cgi .sh /bin/sh
    session on
  }
  # Nothing listens there: one attempt, refused, a 502.
  location /up {
    proxy_pass http://127.0.0.1:{PORT3}
  }
}
`;

const FILES = {
  'www/a.txt': 'alpha\n',
  'cgi-bin/ok.sh': 'printf "Content-Type: text/plain\\r\\nContent-Length: 3\\r\\n\\r\\nok\\n"\n',
  // No header block, only a line that is not one: a 502 and a failed run.
  'cgi-bin/bad.sh': 'echo "this is not a header"\n',
  // Writes into its session, so one is stored.
  'cgi-bin/slow.sh': 'sleep 5\n',
  'cgi-bin/visit.sh':
    'printf "Content-Type: text/plain\r\nX-Session-Data: visits=1\r\nContent-Length: 3\r\n\r\nok\n"\n',
};

/** One request on its own connection, read to the server's close: the status and every byte it sent. */
async function exchange(port: number, request: string): Promise<{ status: number; bytes: number; text: string }> {
  const sock = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => chunks.push(d));
  sock.write(request);
  await new Promise<void>((resolve, reject) => {
    sock.once('close', () => {
      resolve();
    });
    sock.once('error', reject);
  });
  const all = Buffer.concat(chunks);
  const text = all.toString('latin1');
  return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0), bytes: all.length, text };
}

const req = (method: string, target: string, extra = ''): string =>
  `${method} ${target} HTTP/1.1\r\nHost: metrics.test\r\n${extra}Connection: close\r\n\r\n`;

/** The samples of a metrics page: series (name and labels as written) → value. */
function parse(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

function sample(m: Map<string, number>, series: string): number {
  const v = m.get(series);
  assert.ok(v !== undefined, `no sample ${series} in:\n${[...m.keys()].join('\n')}`);
  return v;
}

describe('metrics on', () => {
  let srv: RunningServer;
  let sentToUs = 0;
  let sentToClients = 0;
  let scrape = '';
  let scrapeHead = '';

  /** A scrape now, parsed. */
  const scrapeNow = async (): Promise<Map<string, number>> =>
    parse((await get(srv.port, '/metrics', { Host: 'metrics.test' })).body.toString());

  /** Sends `request` and counts its bytes both ways. */
  const send = async (port: number, request: string): Promise<number> => {
    const r = await exchange(port, request);
    sentToUs += Buffer.byteLength(request);
    sentToClients += r.bytes;
    return r.status;
  };

  before(async () => {
    srv = await startServer({ config: CONFIG, files: FILES });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push(await send(srv.port, req('GET', '/a.txt')));
    for (let i = 0; i < 3; i++) statuses.push(await send(srv.port, req('GET', `/missing-${i}`)));
    for (let i = 0; i < 2; i++) statuses.push(await send(srv.port, req('HEAD', '/a.txt')));
    statuses.push(await send(srv.port, req('POST', '/a.txt', 'Content-Length: 0\r\n')));
    statuses.push(await send(srv.port, req('GET', '/cgi-bin/ok.sh')));
    statuses.push(await send(srv.port, req('GET', '/cgi-bin/bad.sh')));
    // The second server: a file, a CGI script that stores a session, a proxy whose upstream refuses.
    const port2 = srv.ports[1] ?? 0;
    statuses.push(await send(port2, req('GET', '/a.txt')));
    statuses.push(await send(port2, req('GET', '/session/visit.sh')));
    statuses.push(await send(port2, req('GET', '/up/x')));
    assert.deepEqual(
      statuses,
      [200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 200, 200, 405, 200, 502, 200, 200, 502],
    );
    const scrapeRequest = req('GET', '/metrics');
    const r = await exchange(srv.port, scrapeRequest);
    sentToUs += Buffer.byteLength(scrapeRequest);
    assert.equal(r.status, 200, r.text);
    const split = r.text.indexOf('\r\n\r\n');
    scrapeHead = r.text.slice(0, split);
    scrape = Buffer.from(r.text.slice(split + 4), 'latin1').toString('utf8');
  });

  after(async () => {
    await srv.stop();
  });

  test('answers in the text format 0.0.4, HELP and TYPE before each family', () => {
    assert.match(scrapeHead, /^Content-Type: text\/plain; version=0\.0\.4; charset=utf-8$/im);
    assert.match(scrapeHead, /^Content-Length: \d+$/im);
    for (const [name, type] of [
      ['localhost_http_requests_total', 'counter'],
      ['localhost_http_request_duration_seconds', 'histogram'],
      ['localhost_connections', 'gauge'],
      ['localhost_build_info', 'gauge'],
    ] as const) {
      assert.match(scrape, new RegExp(`^# HELP ${name} \\S`, 'm'));
      assert.match(scrape, new RegExp(`^# TYPE ${name} ${type}$`, 'm'));
    }
  });

  test('counts the mix exactly, by server, status class and method', () => {
    const m = parse(scrape);
    const s = 'server="metrics.test"';
    const series = [...m.keys()].filter((k) => k.startsWith('localhost_http_requests_total{'));
    const expected: Record<string, number> = {
      [`localhost_http_requests_total{${s},code="2xx",method="GET"}`]: 8,
      [`localhost_http_requests_total{${s},code="4xx",method="GET"}`]: 3,
      [`localhost_http_requests_total{${s},code="5xx",method="GET"}`]: 1,
      [`localhost_http_requests_total{${s},code="2xx",method="HEAD"}`]: 2,
      [`localhost_http_requests_total{${s},code="4xx",method="POST"}`]: 1,
      // The second server has no server_name: its label is its listen address.
      [`localhost_http_requests_total{server="127.0.0.1:${srv.ports[1] ?? 0}",code="2xx",method="GET"}`]: 2,
      [`localhost_http_requests_total{server="127.0.0.1:${srv.ports[1] ?? 0}",code="5xx",method="GET"}`]: 1,
    };
    assert.deepEqual(Object.fromEntries(series.map((k) => [k, m.get(k)])), expected);
    assert.equal(sample(m, 'localhost_cgi_runs_total'), 3);
    assert.equal(sample(m, 'localhost_cgi_failures_total{reason="header"}'), 1);
    assert.equal(sample(m, 'localhost_cgi_failures_total{reason="spawn"}'), 0);
    assert.equal(sample(m, 'localhost_cgi_failures_total{reason="timeout"}'), 0);
    // Every connection so far, the scrape's own included, one at a time.
    assert.equal(sample(m, 'localhost_connections_accepted_total'), 19);
    assert.equal(sample(m, 'localhost_connections_handled_total'), 19);
    // The scrape is being answered: its connection is writing.
    assert.ok(sample(m, 'localhost_connections{state="writing"}') >= 1);
    assert.ok(m.has('localhost_connections{state="reading"}') && m.has('localhost_connections{state="waiting"}'));
    assert.equal(sample(m, 'localhost_sessions'), 1);
    assert.equal(sample(m, 'localhost_upstream_attempts_total'), 1);
    assert.equal(sample(m, 'localhost_upstream_failures_total'), 1);
  });

  test('bytes received and sent are the bytes on the wire', () => {
    const m = parse(scrape);
    assert.equal(sample(m, 'localhost_http_received_bytes_total'), sentToUs);
    assert.equal(sample(m, 'localhost_http_sent_bytes_total'), sentToClients);
  });

  test('the histogram is cumulative, +Inf equals _count, and _sum is plausible', () => {
    const m = parse(scrape);
    const s = 'server="metrics.test"';
    const les = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];
    const counts = les.map((le) => sample(m, `localhost_http_request_duration_seconds_bucket{${s},le="${le}"}`));
    for (let i = 1; i < counts.length; i++) assert.ok((counts[i] ?? 0) >= (counts[i - 1] ?? 0), counts.join(' '));
    const count = sample(m, `localhost_http_request_duration_seconds_count{${s}}`);
    assert.equal(counts.at(-1), count);
    assert.equal(count, 15, 'the 15 requests to this server before the scrape');
    const sum = sample(m, `localhost_http_request_duration_seconds_sum{${s}}`);
    // Every request here took more than nothing and less than 10 s; the CGI runs took longest.
    assert.ok(sum > 0 && sum < count * 10, `sum ${sum}`);
    assert.ok((counts[0] ?? 0) > 0, 'small files answer within 5 ms');
  });

  test('build info carries the package version, the node version and the transport', () => {
    const m = parse(scrape);
    const pkg = JSON.parse(fs.readFileSync(path.join(MAIN, '../../../package.json'), 'utf8')) as { version: string };
    const transport = /^transport: (\w+)/m.exec(srv.output())?.[1] ?? '';
    const want = `localhost_build_info{version="${pkg.version}",node="${process.version}",transport="${transport}"}`;
    assert.equal(sample(m, want), 1);
    if (process.env['LOCALHOST_TRANSPORT'] !== undefined) assert.equal(transport, process.env['LOCALHOST_TRANSPORT']);
  });

  test('promtool check metrics passes, with no lint problem', { skip: NO_PROMTOOL }, () => {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: scrape, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
  });

  test('promtool finds a broken page: the check can fail', { skip: NO_PROMTOOL }, () => {
    const broken = scrape.replace('localhost_cgi_runs_total ', 'localhost_cgi_runs ');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: broken, encoding: 'utf8' });
    assert.notEqual(`${r.stdout}${r.stderr}`.trim(), '');
  });

  test('HEAD has the headers and no body; POST is 405 with Allow', async () => {
    const h = await exchange(srv.port, req('HEAD', '/metrics'));
    assert.equal(h.status, 200);
    assert.match(h.text, /^Content-Type: text\/plain; version=0\.0\.4; charset=utf-8\r$/m);
    assert.ok(h.text.endsWith('\r\n\r\n'), 'nothing after the head');
    const p = await exchange(srv.port, req('POST', '/metrics', 'Content-Length: 0\r\n'));
    assert.equal(p.status, 405);
    assert.match(p.text, /^Allow: GET, HEAD, OPTIONS\r$/m);
  });

  test('the counters move: the scrapes themselves are counted next time', async () => {
    const before = await scrapeNow();
    const after = await scrapeNow();
    const key = 'localhost_http_requests_total{server="metrics.test",code="2xx",method="GET"}';
    assert.equal(sample(after, key), sample(before, key) + 1);
  });

  test('a head refused by the parser counts as 4xx, method "other", on the address\'s server', async () => {
    const key = 'localhost_http_requests_total{server="metrics.test",code="4xx",method="other"}';
    const before = (await scrapeNow()).get(key) ?? 0;
    const r = await exchange(srv.port, 'GET / HTTP/1.1\r\nHost: metrics.test\r\nno colon here\r\n\r\n');
    assert.equal(r.status, 400);
    assert.equal(sample(await scrapeNow(), key), before + 1);
  });

  test('a script that sends no header within cgi_timeout is a failed run, reason "timeout"', async () => {
    const before = await scrapeNow();
    const r = await exchange(srv.ports[1] ?? 0, req('GET', '/session/slow.sh'));
    assert.equal(r.status, 504);
    const after = await scrapeNow();
    assert.equal(sample(after, 'localhost_cgi_runs_total'), sample(before, 'localhost_cgi_runs_total') + 1);
    const timeouts = 'localhost_cgi_failures_total{reason="timeout"}';
    assert.equal(sample(after, timeouts), sample(before, timeouts) + 1);
  });

  test('status on keeps answering beside it', async () => {
    const r = await get(srv.port, '/status', { Host: 'metrics.test' });
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /^Active connections: \d+\nserver accepts handled requests\n \d+ \d+ \d+\n/);
  });
});

describe('metrics configuration', () => {
  test('metrics maybe is an error at its FILE:LINE:COL', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-metrics-'));
    try {
      const conf = path.join(dir, 'test.conf');
      fs.writeFileSync(conf, 'server {\n  listen 127.0.0.1:1\n  location /metrics {\n    metrics maybe\n  }\n}\n');
      const r = spawnSync(process.execPath, [MAIN, '-t', conf], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.ok(r.stderr.includes(`${conf}:4:13: bad value "maybe" for "metrics": expected on or off`), r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics under worker_processes 2', () => {
  const WORKERS = `worker_processes 2
server {
  listen 127.0.0.1:{PORT}
  server_name counted
  location / {
    root {DIR}/www
  }
}
server {
  listen 127.0.0.1:{PORT2}
  server_name scrapes
  location /metrics {
    metrics on
  }
  location /status {
    status on
  }
}
`;

  /** The latest "worker_processes 2: master M, workers A B" line's worker pids. */
  const workerPids = (srv: RunningServer): number[] => {
    const last = [...srv.output().matchAll(/^worker_processes \d+: master \d+, workers ([\d ]+)$/gm)].at(-1);
    return (last?.[1] ?? '').trim().split(' ').map(Number);
  };

  test('the sums cover both workers and keep a dead worker’s counts', async () => {
    const srv = await startServer({ config: WORKERS, files: { 'www/a.txt': 'alpha\n' } });
    try {
      const port2 = srv.ports[1] ?? 0;
      const key = 'localhost_http_requests_total{server="counted",code="2xx",method="GET"}';
      const counted = async (): Promise<number> => parse((await get(port2, '/metrics')).body.toString()).get(key) ?? 0;
      // Concurrent connections, until the status page shows that both workers took some.
      const pids = new Set<number>();
      let sent = 0;
      for (let round = 0; round < 20 && pids.size < 2; round++) {
        const rs = await Promise.all(Array.from({ length: 10 }, () => get(srv.port, '/a.txt')));
        for (const r of rs) assert.equal(r.status, 200);
        sent += rs.length;
        const pages = await Promise.all(Array.from({ length: 10 }, () => get(port2, '/status')));
        for (const p of pages) pids.add(Number(/^Worker: \d of 2, pid (\d+)$/m.exec(p.body.toString())?.[1]));
      }
      assert.equal(pids.size, 2, 'both workers answered');
      // The master sums the reports once a second: every worker's requests arrive in the total.
      await until(async () => (await counted()) === sent, `the sum to reach ${sent}`, 8000, 100);
      // A worker killed keeps its reported counts in the sums, so the counter never goes back.
      const victim = workerPids(srv)[0] ?? 0;
      process.kill(victim, 'SIGKILL');
      // Reaped by the master (which then counts it among the exited), and replaced by a new worker.
      await until(() => !fs.existsSync(`/proc/${victim}`), `worker ${victim} to be reaped`, 5000, 20);
      const moved = await becomes(async () => (await counted()) !== sent, 2500, 100);
      assert.equal(moved, false, 'the sum over the workers, the dead one included, stays');
      assert.equal(await counted(), sent);
    } finally {
      await srv.stop();
    }
  });
});
