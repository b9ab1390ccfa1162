/**
 * The worker's side (docs/ARCHITECTURE.md "Worker processes"): an Engine that accepts on the listening sockets
 * inherited from the master instead of binding, and the IPC channel to the master: "ready" once serving, the
 * counters once a second, the totals back, and the channel's end, which means the master is gone.
 */
import type { Acceptor, AcceptEvents, Engine } from '../engine.js';
import { currentCounters } from '../counters.js';
import { snapshot } from '../metrics.js';
import type { BindSpec } from '../listeners.js';
import { setWorkerIdentity } from './identity.js';
import {
  isRetire,
  parseTotals,
  socketKey,
  type InheritedSocket,
  type WorkerMessage,
  type WorkerSlot,
} from './protocol.js';

/** How often a worker reports its counters. */
const REPORT_MS = 1000;

/**
 * `base` with `listen` replaced: each socket comes from `sockets` (the descriptor the master handed down, or the
 * error it met binding it). A socket the master did not bind at all (the file changed between its read and ours)
 * is refused like an address in use.
 */
export function inheritedEngine(base: Engine, sockets: readonly InheritedSocket[]): Engine {
  const byKey = new Map(sockets.map((s) => [s.key, s]));
  return {
    name: base.name,
    line: base.line,
    launcher: base.launcher,
    dialer: base.dialer,
    listen: (spec: BindSpec, events: AcceptEvents): Promise<Acceptor> => {
      const s = byKey.get(socketKey(spec));
      if (s === undefined) return Promise.reject(new Error('not bound by the master (the file changed since)'));
      if ('error' in s) return Promise.reject(new Error(s.error));
      // Each descriptor is adopted once: a second listen for it would be a bug in bindAll.
      byKey.delete(s.key);
      return base.adopt(s.fd, spec, events);
    },
    adopt: (fd, spec, events) => base.adopt(fd, spec, events),
  };
}

/** The descriptors of `sockets`, for the launcher to keep from CGI children. */
export function inheritedFds(sockets: readonly InheritedSocket[]): number[] {
  return sockets.flatMap((s) => ('fd' in s ? [s.fd] : []));
}

/** Sends a message to the master; false when there is no channel (any more). */
function send(message: WorkerMessage): boolean {
  if (typeof process.send !== 'function' || !process.connected) return false;
  try {
    process.send(message);
    return true;
  } catch {
    return false;
  }
}

/**
 * Joins the master: records the slot (for status pages), reports counters, takes the totals, calls `onRetired`
 * when a reload replaced this worker, and `onOrphaned` when the channel closes (the master exited or was killed:
 * an IPC channel's end is its socket's EOF, which arrives at once however the master died).
 */
export function joinMaster(
  slot: WorkerSlot,
  onOrphaned: () => void,
  onRetired: () => void,
): { ready(lines: string[], skipped: string[]): void; closed(): void } {
  const identity = setWorkerIdentity(slot);
  process.on('message', (m: unknown) => {
    if (isRetire(m)) {
      onRetired();
      return;
    }
    const totals = parseTotals(m);
    if (totals !== null) identity.totals = totals;
  });
  process.on('disconnect', onOrphaned);
  if (!process.connected) setImmediate(onOrphaned);
  const report = setInterval(() => {
    const c = currentCounters();
    send({
      type: 'counters',
      counters: {
        accepted: c.accepted,
        handled: c.handled,
        requests: c.requests,
        active: c.active,
        reading: c.reading,
        writing: c.writing,
        waiting: c.waiting,
      },
      metrics: snapshot(),
    });
  }, REPORT_MS);
  report.unref();
  // The channel alone must not keep a worker alive whose server has stopped.
  process.channel?.unref();
  return {
    ready: (lines, skipped) => {
      send({ type: 'ready', lines, skipped });
    },
    closed: () => {
      send({ type: 'closed' });
    },
  };
}
