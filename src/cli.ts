/**
 * Command line (docs/ARCHITECTURE.md "Command line"): nginx's flags (-t -T -c -s -g -V), zero-config mode (a
 * folder and flags, no file), and the run: signals, the pid file, reloads. The grammar is in cli/args.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, USAGE, type RunCommand, type SignalName } from './cli/args.js';
import { buildInfoText, directivesText } from './cli/facts.js';
import { readPidFile, removePidFile, writePidFile } from './cli/pidfile.js';
import { zeroConfig } from './cli/zero-config.js';
import { GLOBALS_FILE, loadConfig, parseConfigText, type ConfigResult } from './config/load.js';
import { chooseEngine } from './server/engine.js';
import { BindError, HttpServer } from './server/server.js';
import { SERVER_NAME } from './http/response.js';
import { loadAddon } from './server/native/addon.js';
import { Master } from './server/workers/master.js';
import { parseSlot, parseSockets, SOCKETS_ENV, WORKER_ENV } from './server/workers/protocol.js';
import { inheritedEngine, inheritedFds, joinMaster } from './server/workers/worker.js';

/** How long in-flight responses may take to finish after SIGTERM/SIGINT (`-s stop`). */
const SHUTDOWN_GRACE_MS = 5000;
/** The same after SIGQUIT (`-s quit`, nginx's graceful shutdown): longer, still bounded. */
const QUIT_GRACE_MS = 30_000;

/** The signal `-s NAME` sends (nginx's mapping). */
const SIGNAL_OF: Record<SignalName, NodeJS.Signals> = {
  stop: 'SIGTERM',
  quit: 'SIGQUIT',
  reload: 'SIGHUP',
  reopen: 'SIGUSR1',
};

/** Where the configuration comes from: a file, or zero-config text; `load()` reads it (again, on reload). */
interface Source {
  /** The file's absolute path, or zero-config's pseudo-file. */
  readonly name: string;
  /** Served folder in zero-config mode; null with a file. */
  readonly root: string | null;
  readonly load: () => ConfigResult;
  /** The text `-T` prints. */
  readonly dump: () => string;
}

function sourceOf(cmd: RunCommand): Source | string {
  const opts = { strict: cmd.strict, ...(cmd.globals !== null ? { globals: cmd.globals } : {}) };
  const globalsDump = cmd.globals !== null ? `# ${GLOBALS_FILE}:\n${cmd.globals}\n` : '';
  if (cmd.zero !== null) {
    const z = zeroConfig(cmd.zero, process.cwd());
    if (!z.ok) return z.error;
    const { text, file, root } = z.value;
    return {
      name: file,
      root,
      load: () => parseConfigText(text, file, opts),
      dump: () => `# configuration ${file}:\n${text}${globalsDump}`,
    };
  }
  const file = path.resolve(cmd.configFile ?? 'config.conf');
  return {
    name: file,
    root: null,
    load: () => loadConfig(file, opts),
    dump: () => {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        text = '';
      }
      return `# configuration file ${file}:\n${text}${text.endsWith('\n') ? '' : '\n'}${globalsDump}`;
    },
  };
}

/** The URLs a zero-config server answers on: a wildcard address is shown as each local address of its family. */
function urlsOf(lines: readonly string[]): string[] {
  const urls: string[] = [];
  for (const line of lines) {
    const m = /^listening on (\[[^\]]+\]|[^:\s]+):(\d+)/.exec(line);
    if (m === null || m[1] === undefined || m[2] === undefined) continue;
    const port = m[2];
    const wild = m[1] === '0.0.0.0' || m[1] === '[::]';
    const hosts = !wild
      ? [m[1]]
      : Object.values(os.networkInterfaces())
          .flatMap((list) => list ?? [])
          .filter((a) => (a.family === 'IPv6') === (m[1] === '[::]') && !a.address.startsWith('fe80'))
          .map((a) => (a.family === 'IPv6' ? `[${a.address}]` : a.address));
    for (const h of hosts) urls.push(`http://${h}:${port}/`);
  }
  return urls;
}

/** Writes the pid file and removes it at exit; the error line when it cannot be written, else null. */
function claimPidFile(pidFile: string): string | null {
  const claimed = writePidFile(pidFile);
  if (!claimed.ok) return claimed.error;
  if (claimed.value.kind === 'stale')
    process.stderr.write(`replaced a stale pid file ${pidFile} (${claimed.value.why})\n`);
  // Every exit goes through process.exit (or the end of the loop): the file goes with the process.
  process.on('exit', () => {
    removePidFile(pidFile);
  });
  return null;
}

/** `-s NAME`: finds the running instance through the configuration's pid file and signals it. */
function sendSignal(cmd: RunCommand, source: Source): number {
  const result = source.load();
  for (const e of result.errors) process.stderr.write(`${e.message}\n`);
  if (!result.ok) {
    process.stderr.write(`${source.name}: the configuration cannot be used, so its pid file is unknown\n`);
    return 1;
  }
  const file = result.config.pid;
  if (file === null) {
    process.stderr.write(`${source.name}: no "pid" directive: there is no pid file to find the instance by\n`);
    return 1;
  }
  const state = readPidFile(file);
  if (state.kind === 'absent') {
    process.stderr.write(`${file} does not exist: no instance is running\n`);
    return 1;
  }
  if (state.kind === 'stale') {
    process.stderr.write(`${file} is stale (${state.why}): no instance is running\n`);
    return 1;
  }
  const signal = SIGNAL_OF[cmd.signal ?? 'reload'];
  try {
    process.kill(state.pid, signal);
  } catch (e) {
    process.stderr.write(`cannot signal process ${state.pid}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  process.stdout.write(`sent ${signal} to process ${state.pid} (${file})\n`);
  return 0;
}
/** How long a worker whose master is gone lets in-flight responses finish (it is gone within 2 s in all). */
const ORPHAN_GRACE_MS = 1000;

async function main(argv: readonly string[], earlyUsr1: () => void): Promise<number> {
  const parsed = parseArgs(argv, {
    isDirectory: (p) => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() === true,
    hasDefaultConfig: fs.existsSync('config.conf'),
  });
  if (!parsed.ok) {
    process.stderr.write(`localhost: ${parsed.error}\n\n${USAGE}`);
    return 2;
  }
  const cmd = parsed.value;
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
      process.stdout.write(`${SERVER_NAME}\n`);
      return 0;
    case 'build-info':
      process.stdout.write(buildInfoText());
      return 0;
    case 'directives':
      process.stdout.write(directivesText());
      return 0;
    case 'run':
    case 'test':
    case 'dump':
    case 'signal':
      break;
  }
  const source = sourceOf(cmd);
  if (typeof source === 'string') {
    process.stderr.write(`localhost: ${source}\n`);
    return 2;
  }
  if (cmd.kind === 'signal') return sendSignal(cmd, source);
  const configPath = source.name;
  const result = source.load();
  // Every error is printed; a broken server block is only skipped (its errors end in "(server skipped)").
  for (const e of result.errors) process.stderr.write(`${e.message}\n`);
  for (const n of result.notices ?? []) process.stderr.write(`${n.message}\n`);
  if (!result.ok) {
    process.stderr.write(`${configPath}: no server can run\n`);
    return 1;
  }
  if (cmd.kind === 'test' || cmd.kind === 'dump') {
    if (cmd.kind === 'dump') process.stdout.write(source.dump());
    // Sessions in memory live in each process: a second request may reach another worker, which does not know it.
    const perWorker = result.config.servers.some(
      (s) => s.sessionStore.kind === 'memory' && s.locations.some((l) => l.session),
    );
    if (result.config.workerProcesses > 1 && perWorker)
      process.stderr.write(
        `${configPath}: warning: with worker_processes ${result.config.workerProcesses}, sessions are per worker (each keeps its own in memory; session_store redis:// shares them)\n`,
      );
    if (result.errors.length > 0) return 1;
    process.stdout.write(`${configPath}: configuration is valid\n`);
    return 0;
  }
  // A worker of `worker_processes N` (the master started it): it accepts on the sockets it inherited.
  const slot = parseSlot(process.env[WORKER_ENV]);
  const sockets = slot === null ? [] : parseSockets(process.env[SOCKETS_ENV]);
  if (typeof sockets === 'string') {
    process.stderr.write(`${sockets}\n`);
    return 1;
  }
  // The pid file is the master's (or the single process's); a worker never claims it.
  const pidFile = slot === null ? result.config.pid : null;
  if (pidFile !== null) {
    // Checked before binding: a second instance must not take over the first's pid file (nor fail half-started).
    const state = readPidFile(pidFile);
    if (state.kind === 'running') {
      process.stderr.write(`${pidFile}: another instance is running (pid ${state.pid}); stop it first, or use -s\n`);
      return 1;
    }
  }
  if (slot === null && result.config.workerProcesses > 1 && pidFile !== null) {
    const claimed = claimPidFile(pidFile);
    if (claimed !== null) {
      process.stderr.write(`${claimed}\n`);
      return 1;
    }
  }
  const chosen = chooseEngine(result.config.transport, process.env['LOCALHOST_TRANSPORT'], inheritedFds(sockets));
  if (!chosen.ok) {
    process.stderr.write(`${chosen.error}\n`);
    return 1;
  }
  // TLS listeners are made by node:tls in each process (engine.ts nodeListen), not handed over by the master yet.
  const tls = result.config.servers.some((s) => s.listens.some((l) => l.ssl));
  if (slot === null && result.config.workerProcesses > 1 && tls)
    process.stdout.write(
      `worker_processes ${result.config.workerProcesses}: one process serves (TLS listeners are not shared with workers yet)\n`,
    );
  else if (slot === null && result.config.workerProcesses > 1) {
    const addon = loadAddon();
    if (addon.ok) {
      const master = new Master(addon.value, {
        configPath,
        strict: cmd.strict,
        argv,
        transportLine: chosen.value.line,
      });
      process.off('SIGUSR1', earlyUsr1);
      const code = await master.start(result.config);
      return code ?? -1;
    }
    // The master holds the workers' sockets as bare descriptors, which only the addon makes: node:net starts
    // accepting the moment it listens, and the master would take connections itself.
    process.stdout.write(
      `worker_processes ${result.config.workerProcesses}: one process serves (the master needs the native addon to hold the workers' sockets: ${addon.error})\n`,
    );
  }
  const engine = slot === null ? chosen.value : inheritedEngine(chosen.value, sockets);
  const server = new HttpServer(result.config, engine);
  // Signal handlers go in before anything is announced: a signal sent the moment "listening on" appears must be
  // handled, not take the default action (terminate).
  let started = false;
  let stopping = false;
  const stop = (
    signal: string,
    graceMs = SHUTDOWN_GRACE_MS,
    mode: 'close-idle' | 'keep-idle' | 'retire' = 'close-idle',
  ): void => {
    if (stopping) return;
    stopping = true;
    if (slot === null) process.stdout.write(`${signal}: shutting down\n`);
    if (!started) process.exit(0); // nothing bound yet, or start failed: nothing to drain
    void server.stop(graceMs, mode).then(() => process.exit(0));
    master?.closed(); // the listeners closed in stop(): a reload can say the old configuration takes no more
  };
  // A worker whose master is gone (even by SIGKILL: the IPC channel reaches EOF) stops, so no worker outlives it.
  const master =
    slot === null
      ? null
      : joinMaster(
          slot,
          () => {
            stop('master gone', ORPHAN_GRACE_MS);
          },
          () => {
            stop('retired', QUIT_GRACE_MS, 'retire');
          },
        );
  // SIGQUIT is nginx's graceful stop (without a handler Node would dump core): idle keep-alive connections are
  // not cut, their next request is answered with Connection: close. The master retires workers with a message.
  process.on('SIGQUIT', () => {
    stop('SIGQUIT', QUIT_GRACE_MS, 'keep-idle');
  });
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
  // SIGUSR1 reopens the log files (logrotate's postrotate); it never opens a debugger (see main.ts).
  process.on('SIGUSR1', () => {
    if (started) server.reopenLogs();
  });
  process.off('SIGUSR1', earlyUsr1);
  // SIGHUP re-reads the configuration. Broken server blocks are skipped as at start; a file that cannot be used
  // at all is logged and the running configuration stays (as NGINX does).
  let reloading = false;
  process.on('SIGHUP', () => {
    // A worker's configuration is replaced by the master's new generation, not in place.
    if (stopping || reloading || !started || slot !== null) return;
    reloading = true;
    const next = source.load();
    if (!next.ok) {
      server.logError(
        `reload failed, keeping the running configuration:\n${next.errors.map((e) => e.message).join('\n')}`,
      );
      reloading = false;
      return;
    }
    for (const e of next.errors) server.logError(`reload: ${e.message}`);
    const wanted = next.config.transport;
    if (wanted !== null && wanted !== engine.name && (process.env['LOCALHOST_TRANSPORT'] ?? '') === '')
      server.logError(`reload: "transport ${wanted}" takes effect at the next start (running on ${engine.name})`);
    server.reload(next.config).then(
      ({ lines, skipped }) => {
        for (const line of skipped) server.logError(`reload: ${line}`);
        server.logInfo(`configuration reloaded from ${configPath}${lines.length > 0 ? ': ' + lines.join('; ') : ''}`);
        for (const l of lines) process.stdout.write(`${l}\n`);
        process.stdout.write('reloaded\n');
        reloading = false;
      },
      (err: unknown) => {
        server.logError(
          `reload failed, keeping the running configuration: ${err instanceof Error ? err.message : String(err)}`,
        );
        reloading = false;
      },
    );
  });
  try {
    const { lines, skipped } = await server.start();
    started = true;
    // The pid file before the start-up lines: whoever waits for "listening on" may signal through it at once.
    if (pidFile !== null && result.config.workerProcesses <= 1) {
      const claimed = claimPidFile(pidFile);
      if (claimed !== null) {
        process.stderr.write(`${claimed}\n`);
        await server.stop(0);
        return 1;
      }
    }
    if (master !== null)
      master.ready(lines, skipped); // the master prints them once for all workers
    else {
      process.stdout.write(`${engine.line}\n`);
      for (const line of skipped) process.stderr.write(`${line}\n`);
      for (const l of lines) process.stdout.write(`${l}\n`);
    }
    if (source.root !== null && master === null) {
      process.stdout.write(`serving ${source.root} (read-only unless --upload; dotfiles hidden)\n`);
      for (const url of urlsOf(lines)) process.stdout.write(`  ${url}\n`);
    }
  } catch (err) {
    if (err instanceof BindError) {
      process.stderr.write(`${err.message}\n${configPath}: no server can run\n`);
      return 1;
    }
    throw err;
  }
  process.on('uncaughtException', (err) => {
    // Last line of defence: a bug in one exchange must not take every other client down.
    process.stderr.write(`uncaught exception (server keeps running): ${err.stack ?? String(err)}\n`);
  });
  return -1;
}

/** Runs the command line; `earlyUsr1` is main.ts's placeholder SIGUSR1 listener, replaced here. */
export function run(argv: readonly string[], earlyUsr1: () => void): void {
  main(argv, earlyUsr1).then(
    (code) => {
      // Exit at once: nothing else may keep the process alive after a failed start or a -t check.
      if (code >= 0) process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
