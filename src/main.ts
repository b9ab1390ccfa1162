#!/usr/bin/env node
/**
 * Entry point. Its first act is to claim SIGUSR1: Node's default action for it opens the inspector on
 * 127.0.0.1:9229, which would let any local user run code as the server, and logrotate sends SIGUSR1 to
 * NGINX-style servers to reopen their logs. A listener replaces the default; cli.ts then reopens the logs on it.
 * Everything else loads afterwards, so the window before the listener exists is Node's own start-up only
 * (on Node ≥ 22.14, `--disable-sigusr1` closes that too).
 */
process.on('SIGUSR1', ignoreEarlySigusr1);

function ignoreEarlySigusr1(): void {
  // No log is open yet: nothing to reopen.
}

// A closed stdout or stderr (the reading end of a pipe went away, as with `| head`) reports EPIPE as an 'error'
// event; unhandled, each would be an uncaught exception whose report to stderr fails again: a loop at 100 % CPU
// that no signal can interrupt. The lines are lost; the server goes on (NGINX likewise ignores SIGPIPE).
process.stdout.on('error', ignoreStreamError);
process.stderr.on('error', ignoreStreamError);

function ignoreStreamError(): void {
  // nowhere left to say it
}

const { run } = await import('./cli.js');
run(process.argv.slice(2), ignoreEarlySigusr1);
