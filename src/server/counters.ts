/**
 * The process-wide connection and request counters (they survive configuration reloads, like NGINX's).
 */
import type { Counters } from './runtime.js';

const counters: Counters = {
  accepted: 0,
  handled: 0,
  requests: 0,
  active: 0,
  reading: 0,
  writing: 0,
  waiting: 0,
  startedAt: Date.now(),
};

/** The live counters object; connections update it in place. */
export function currentCounters(): Counters {
  return counters;
}
