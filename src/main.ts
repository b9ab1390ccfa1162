#!/usr/bin/env node
/**
 * Command line (DESIGN §1): `node dist/main.js [-t] [-h] [-v] [CONFIG]`.
 */
import * as path from 'node:path';
import { loadConfig } from './config/load.js';
import { BindError, HttpServer } from './server/server.js';
import { SERVER_NAME } from './http/response.js';

const USAGE = `usage: localhost [-t] [-h] [-v] [CONFIG]

  CONFIG   configuration file (default: ./config.conf)
  -t       check the configuration and exit (0 valid, 1 invalid)
  -h       show this help
  -v       show the version
`;

/** How long in-flight responses may take to finish after SIGTERM/SIGINT. */
const SHUTDOWN_GRACE_MS = 5000;

async function main(argv: readonly string[]): Promise<number> {
  let check = false;
  let file: string | null = null;
  for (const a of argv) {
    if (a === '-t') check = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      return 0;
    } else if (a === '-v' || a === '--version') {
      process.stdout.write(`${SERVER_NAME}\n`);
      return 0;
    } else if (a.startsWith('-')) {
      process.stderr.write(`unknown option ${a}\n${USAGE}`);
      return 1;
    } else if (file === null) file = a;
    else {
      process.stderr.write(`only one configuration file may be given\n${USAGE}`);
      return 1;
    }
  }
  const configPath = path.resolve(file ?? 'config.conf');
  const result = loadConfig(configPath);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(`${e.message}\n`);
    return 1;
  }
  if (check) {
    process.stdout.write(`${configPath}: configuration is valid\n`);
    return 0;
  }
  const server = new HttpServer(result.config);
  // Signal handlers go in before anything is announced: a signal sent the moment "listening on" appears must be
  // handled, not take the default action (terminate).
  let started = false;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: shutting down\n`);
    if (!started) process.exit(0); // nothing bound yet, or start failed: nothing to drain
    void server.stop(SHUTDOWN_GRACE_MS).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP re-reads the configuration; an invalid one is logged and the running one stays (as NGINX does).
  let reloading = false;
  process.on('SIGHUP', () => {
    if (stopping || reloading || !started) return;
    reloading = true;
    const next = loadConfig(configPath);
    if (!next.ok) {
      server.logError(`reload failed, keeping the running configuration:\n${next.errors.map((e) => e.message).join('\n')}`);
      reloading = false;
      return;
    }
    server.reload(next.config).then(
      (lines) => {
        server.logInfo(`configuration reloaded from ${configPath}${lines.length > 0 ? ': ' + lines.join('; ') : ''}`);
        for (const l of lines) process.stdout.write(`${l}\n`);
        process.stdout.write('reloaded\n');
        reloading = false;
      },
      (err: unknown) => {
        server.logError(`reload failed, keeping the running configuration: ${err instanceof Error ? err.message : String(err)}`);
        reloading = false;
      },
    );
  });
  try {
    const lines = await server.start();
    started = true;
    for (const l of lines) process.stdout.write(`${l}\n`);
  } catch (err) {
    if (err instanceof BindError) {
      process.stderr.write(`${err.message}\n`);
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

main(process.argv.slice(2)).then(
  (code) => {
    // Exit at once: nothing else may keep the process alive after a failed start or a -t check.
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`fatal: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
