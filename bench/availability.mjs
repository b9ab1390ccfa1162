#!/usr/bin/env node
// Availability under siege: `siege -b -c 50 -t T` on `/` twice without restarting the server, then twice on a URL
// file mixing a static page, a 404, a directory listing and a CGI page. Each run must keep availability >= 99.5 %
// (100 % is the aim; failed transactions and siege's alerts are printed), and the server's RSS after the second
// run of a pair must stay within 10 % of the RSS after the first (with --rss-slack-mib M: or within M MiB, for
// short runs where a few MiB of heap growth is more than 10 %). Growth is what is checked: a smaller RSS passes.
//
// The 404 in the mix: siege 4.0.7 counts a 404 as a transaction that is neither successful nor failed, so it does
// not lower availability (408 and 5xx do: they are "failed"). The mix run also checks that the successful
// transactions are at least 3/4 of all minus one per user (siege walks the file in order in each user, so every
// non-404 URL answering < 400 means exactly that), which catches a page that wrongly answers 4xx.
//
// A fresh Node heap grows for the first few thousand CGI requests (V8 sizing its old space: on this machine RSS
// climbs ~30 MiB over ~4,000 CGI runs, then stays flat), so a short run compares warm-up with steady state;
// --warmup T runs siege once more, uncounted, before run 1 of each phase; or, for short runs, --node-flags
// --max-semi-space-size=1 pins the young generation at its starting size, and the test adds
// --max-old-space-size=32 so that V8 collects fully before it grows the heap (see nodeFlagsOf in lib.mjs).
//
// Usage: node bench/availability.mjs [--time 60S] [--concurrency 50] [--min 99.5] [--rss-pct 10]
//          [--rss-slack-mib 0] [--warmup 0|T] [--phases plain,mix] [--connection keep-alive|close]
//          [--node-flags FLAG,...] [--main PATH] [--keep]
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  MIX,
  Verdict,
  findMain,
  freePort,
  makeSite,
  mib,
  nodeFlagsOf,
  parseArgs,
  runMain,
  runSiege,
  snapshot,
  startServer,
  tempDir,
  waitFor,
} from './lib.mjs';

const opts = parseArgs(process.argv.slice(2), {
  time: '60S',
  concurrency: '50',
  min: '99.5',
  'rss-pct': '10',
  'rss-slack-mib': '0',
  warmup: '0',
  phases: 'plain,mix',
  connection: 'keep-alive',
  main: '',
  'node-flags': '',
  keep: false,
});

runMain(async () => {
  const main = findMain(opts.main);
  const conc = Number(opts.concurrency);
  const min = Number(opts.min);
  const rssPct = Number(opts['rss-pct']);
  const slackKiB = Number(opts['rss-slack-mib']) * 1024;
  const dir = tempDir('availability');
  const port = await freePort();
  const server = await startServer({
    main,
    dir,
    config: makeSite(dir, port, 'keepalive_timeout 30s'),
    nodeFlags: nodeFlagsOf(opts['node-flags']),
  });
  const base = `http://127.0.0.1:${port}`;
  const urls = path.join(dir, 'urls.txt');
  const mixOrder = [MIX.static, MIX.missing, MIX.listing, MIX.cgi];
  fs.writeFileSync(urls, mixOrder.map((m) => base + m.path).join('\n') + '\n');
  const v = new Verdict('availability');
  const start = snapshot(server.pid);
  process.stdout.write(
    `availability: server ${main} pid ${server.pid} on ${base}${opts['node-flags'] ? ' (node flags ' + opts['node-flags'] + ')' : ''}; start RSS ${mib(start.rssKiB)} MiB, ${start.fds} fds\n`,
  );
  /** @type {Record<string, { runs: unknown[], rssGrowthPct: number }>} */
  const phases = {};
  /** @type {Record<string, unknown>} */
  const figures = {
    time: opts.time,
    warmup: opts.warmup,
    nodeFlags: opts['node-flags'],
    concurrency: conc,
    connection: opts.connection,
    startRssKiB: start.rssKiB,
    phases,
  };

  const wanted = new Set(opts.phases.split(','));
  for (const phase of [
    { name: 'plain', target: [base + '/'], desc: `${base}/` },
    { name: 'mix', target: ['-f', urls], desc: `mix of ${mixOrder.map((m) => m.path).join(' ')}` },
  ].filter((p) => wanted.has(p.name))) {
    const runs = [];
    if (opts.warmup !== '0') {
      process.stdout.write(
        `availability: ${phase.name} warm-up (not counted): siege -b -c ${conc} -t ${opts.warmup}\n`,
      );
      const w = await runSiege({
        dir,
        args: ['-b', '-c', String(conc), '-t', opts.warmup, ...phase.target],
        connection: opts.connection,
        port,
      });
      for (const h of w.hangs) process.stdout.write(`  siege hung and was run again: ${h}\n`);
      await waitFor(() => snapshot(server.pid).fds <= start.fds + 2, 5000);
      process.stdout.write(
        `  ${w.transactions} transactions, availability ${w.availability.toFixed(2)} %; server RSS ${mib(snapshot(server.pid).rssKiB)} MiB\n`,
      );
    }
    for (let run = 1; run <= 2; run++) {
      process.stdout.write(
        `availability: ${phase.name} run ${run}: siege -b -c ${conc} -t ${opts.time} (${opts.connection}) on ${phase.desc}\n`,
      );
      const r = await runSiege({
        dir,
        args: ['-b', '-c', String(conc), '-t', opts.time, ...phase.target],
        connection: opts.connection,
        port,
      });
      for (const h of r.hangs) process.stdout.write(`  siege hung and was run again: ${h}\n`);
      // siege has closed its connections: wait (bounded) for the server to close its side before reading RSS.
      await waitFor(() => snapshot(server.pid).fds <= start.fds + 2, 5000);
      const after = snapshot(server.pid);
      const fig = {
        transactions: r.transactions,
        availability: r.availability,
        successful: r.successful_transactions,
        failed: r.failed_transactions,
        rate: r.transaction_rate,
        longest: r.longest_transaction,
        rssKiB: after.rssKiB,
        fds: after.fds,
        children: after.children,
        alerts: r.alerts.slice(0, 5),
        siegeHangs: r.hangs,
      };
      runs.push(fig);
      process.stdout.write(
        `  ${r.transactions} transactions, availability ${r.availability.toFixed(2)} %, failed ${r.failed_transactions}, ` +
          `successful ${r.successful_transactions}, ${r.transaction_rate} trans/s, longest ${r.longest_transaction} s; ` +
          `server RSS ${mib(after.rssKiB)} MiB, ${after.fds} fds, ${after.children} children\n`,
      );
      for (const a of r.alerts.slice(0, 5)) process.stdout.write(`  siege: ${a}\n`);
      v.check(
        r.transactions > 0 && r.availability >= min,
        `${phase.name} run ${run}: availability ${r.availability.toFixed(2)} % >= ${min} % (failed transactions: ${r.failed_transactions})`,
      );
      if (phase.name === 'mix') {
        const floor = Math.floor((r.transactions * 3) / 4) - conc;
        v.check(
          r.successful_transactions >= floor,
          `mix run ${run}: ${r.successful_transactions} successful of ${r.transactions} >= ${floor} (3/4 minus one per user: only the 404 is not a success)`,
        );
      }
      v.check(server.alive(), `${phase.name} run ${run}: the server is still running`);
    }
    const [a, b] = runs;
    if (a === undefined || b === undefined) throw new Error(`${phase.name}: two runs expected, got ${runs.length}`);
    const limit = Math.max(a.rssKiB * (1 + rssPct / 100), a.rssKiB + slackKiB);
    const growth = ((b.rssKiB - a.rssKiB) / a.rssKiB) * 100;
    v.check(
      b.rssKiB <= limit,
      `${phase.name}: RSS after run 2 ${mib(b.rssKiB)} MiB vs after run 1 ${mib(a.rssKiB)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %), limit ${mib(limit)} MiB (+${rssPct} %${slackKiB > 0 ? ` or +${opts['rss-slack-mib']} MiB` : ''})`,
    );
    phases[phase.name] = { runs, rssGrowthPct: Number(growth.toFixed(2)) };
  }

  const end = await waitFor(() => {
    const s = snapshot(server.pid);
    return s.children === 0 && s.fds <= start.fds + 2 ? s : null;
  }, 10_000);
  const last = end || snapshot(server.pid);
  v.check(last.children === 0, `no CGI child left after the runs (${last.children})`);
  const { stderr } = server.output();
  v.check(!/uncaught exception|fatal/i.test(stderr), 'no uncaught exception in the server log');
  const stopped = await server.stop();
  v.check(
    stopped.code === 0,
    `the server exits 0 on SIGTERM (exit ${stopped.code}${stopped.signal ? ', ' + stopped.signal : ''})`,
  );
  figures.endFds = last.fds;
  if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  else process.stdout.write(`availability: kept ${dir}\n`);
  return v.finish(figures);
});
