/**
 * Which worker this process is, if it is one, and the latest sums over all workers the master sent: what a
 * `status on` page shows beside this process's own counters (docs/ARCHITECTURE.md "Worker processes").
 */
import type { TotalsMessage, WorkerSlot } from './protocol.js';

/** This worker's slot and the master's latest totals. */
export interface WorkerIdentity {
  readonly slot: WorkerSlot;
  totals: TotalsMessage | null;
}

let identity: WorkerIdentity | null = null;

/** Marks this process as worker `slot` (once, at start). */
export function setWorkerIdentity(slot: WorkerSlot): WorkerIdentity {
  identity = { slot, totals: null };
  return identity;
}

/** This process's worker identity; null in a single-process server. */
export function workerIdentity(): WorkerIdentity | null {
  return identity;
}
