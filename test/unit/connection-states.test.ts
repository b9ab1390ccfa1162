/**
 * The connection's state table (connection-states.ts): which moves are legal, how long each state may last, and
 * how moves keep the stub_status counters consistent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Timeouts } from '../../src/config/types.js';
import {
  countMove,
  legal,
  LINGER_MS,
  stateTimeout,
  TRANSITIONS,
  type ConnState,
} from '../../src/server/connection-states.js';
import type { Counters } from '../../src/server/runtime.js';

const STATES: readonly ConnState[] = ['head', 'body', 'handling', 'writing', 'idle', 'tunnel', 'closing', 'closed'];

/** The moves as docs/ARCHITECTURE.md draws them, written out independently of the table under test. */
const EXPECTED_LEGAL = new Set([
  'head→body',
  'head→handling',
  'head→writing',
  'head→closed',
  'body→handling',
  'body→writing',
  'body→closed',
  'handling→writing',
  'handling→closed',
  'handling→tunnel',
  'writing→idle',
  'writing→head',
  'writing→closing',
  'writing→closed',
  'idle→head',
  'idle→closed',
  'tunnel→closed',
  'closing→closed',
]);

describe('TRANSITIONS and legal()', () => {
  it('lists every state, and only states', () => {
    assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...STATES].sort());
    for (const tos of Object.values(TRANSITIONS)) for (const to of tos) assert.ok(STATES.includes(to));
  });

  for (const from of STATES) {
    it(`from ${from}: exactly the listed moves are legal`, () => {
      for (const to of STATES) {
        const move = `${from}→${to}`;
        assert.equal(legal(from, to), EXPECTED_LEGAL.has(move), move);
        assert.equal(TRANSITIONS[from].includes(to), EXPECTED_LEGAL.has(move), move);
      }
    });
  }

  it('never stays in place, never leaves closed, and can close from anywhere else', () => {
    for (const s of STATES) assert.equal(legal(s, s), false, s);
    assert.deepEqual(TRANSITIONS.closed, []);
    for (const s of STATES) if (s !== 'closed') assert.equal(legal(s, 'closed'), true, s);
  });

  it('does not go back to reading a body or handling once an answer is being written', () => {
    for (const to of ['body', 'handling'] as const) {
      assert.equal(legal('writing', to), false);
      assert.equal(legal('idle', to), false);
      assert.equal(legal('closing', to), false);
    }
  });

  it('enters a tunnel only from handling (a 101 to a request without a body), and leaves it only to close', () => {
    for (const s of STATES) assert.equal(legal(s, 'tunnel'), s === 'handling', s);
    assert.deepEqual(TRANSITIONS.tunnel, ['closed']);
  });
});

describe('stateTimeout', () => {
  const t: Timeouts = { header: 1, body: 2, keepalive: 3, send: 4, cgi: 5 };

  it('maps each state to its own timeout', () => {
    assert.equal(stateTimeout('head', t), 1);
    assert.equal(stateTimeout('body', t), 2);
    assert.equal(stateTimeout('idle', t), 3);
    assert.equal(stateTimeout('writing', t), 4);
    assert.equal(stateTimeout('closing', t), LINGER_MS);
  });

  it('gives handling, tunnel and closed no deadline (handlers such as CGI and the proxy bound their own time)', () => {
    assert.equal(stateTimeout('handling', t), Infinity);
    assert.equal(stateTimeout('tunnel', t), Infinity);
    assert.equal(stateTimeout('closed', t), Infinity);
    // cgi_timeout is never a connection's deadline.
    for (const s of STATES) assert.notEqual(stateTimeout(s, t), t.cgi, s);
  });

  it('lingers for two seconds', () => {
    assert.equal(LINGER_MS, 2000);
  });
});

describe('countMove', () => {
  const fresh = (): Counters => ({
    accepted: 0,
    handled: 0,
    requests: 0,
    active: 0,
    reading: 0,
    writing: 0,
    waiting: 0,
    startedAt: 0,
  });
  const counterOf = (s: ConnState): 'reading' | 'writing' | 'waiting' | null =>
    s === 'head' || s === 'body'
      ? 'reading'
      : s === 'handling' || s === 'writing' || s === 'tunnel'
        ? 'writing'
        : s === 'idle'
          ? 'waiting'
          : null;

  it('moves one count between the counters of the two states, for every legal move', () => {
    for (const move of EXPECTED_LEGAL) {
      const [from, to] = move.split('→') as [ConnState, ConnState];
      const c = fresh();
      const a = counterOf(from);
      if (a !== null) c[a] = 1; // the connection counts in its current state
      countMove(c, from, to);
      const b = counterOf(to);
      const expect = { reading: 0, writing: 0, waiting: 0 };
      if (b !== null) expect[b] = 1;
      assert.deepEqual({ reading: c.reading, writing: c.writing, waiting: c.waiting }, expect, move);
      assert.equal(c.active + c.accepted + c.handled + c.requests, 0, 'only the state counters change');
    }
  });

  it('keeps reading + writing + waiting equal to the open connections through a life of moves', () => {
    const c = fresh();
    // Two connections, each counted in `reading` when accepted (as Connection's constructor does).
    const lives: ConnState[][] = [
      ['head', 'body', 'handling', 'writing', 'head', 'handling', 'writing', 'idle', 'head', 'writing', 'closing'],
      ['head', 'handling', 'writing', 'idle', 'closed'],
    ];
    c.reading = lives.length;
    const at = lives.map((l) => l[0] as ConnState);
    const open = (): number => at.filter((s) => s !== 'closing' && s !== 'closed').length;
    for (let step = 1; step < 12; step++) {
      lives.forEach((life, i) => {
        const next = life[step];
        const cur = at[i];
        if (next === undefined || cur === undefined) return;
        assert.ok(legal(cur, next), `${cur}→${next}`);
        countMove(c, cur, next);
        at[i] = next;
      });
      assert.equal(c.reading + c.writing + c.waiting, open(), `step ${step}`);
      for (const k of ['reading', 'writing', 'waiting'] as const) assert.ok(c[k] >= 0, `${k} at step ${step}`);
    }
    // Both ended: closing → closed counts nothing more.
    countMove(c, 'closing', 'closed');
    assert.deepEqual(
      { reading: c.reading, writing: c.writing, waiting: c.waiting },
      { reading: 0, writing: 0, waiting: 0 },
    );
  });
});
