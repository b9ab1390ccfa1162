/**
 * The RESP client against a real redis-server (started here in a temp dir, stopped by PID): SET ... PX and GET,
 * a pipelined burst answered in order, fast failure while Redis is down, and reconnection when it is back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../helpers/server.js';
import { becomes } from '../helpers/wait.js';
import { have } from '../helpers/siege.js';
import { RedisClient } from '../../src/session/redis-client.js';
import { startRedis, stopRedis } from '../helpers/redis.js';
import type { RespValue } from '../../src/session/resp.js';

const NO_REDIS = have('redis-server') ? false : 'redis-server is not installed (apt-get install redis-server)';

const call = (c: RedisClient, args: string[]): Promise<RespValue> =>
  new Promise((resolve, reject) => {
    c.command(args, (e, v) => {
      if (e !== null) reject(e);
      else resolve(v);
    });
  });

test(
  'RESP client: PX expiry, pipelining, failure while down, reconnection',
  { skip: NO_REDIS, timeout: 60_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-redis-'));
    const port = await freePort();
    let redis = await startRedis(dir, port);
    const states: boolean[] = [];
    const client = new RedisClient({ host: '127.0.0.1', port, user: null, password: null, db: 0 }, (up) => {
      states.push(up);
    });
    try {
      assert.ok(await becomes(() => client.up, 5000), 'connected');
      assert.equal(await call(client, ['SET', 's:1', 'n=1', 'PX', '60000']), 'OK');
      assert.deepEqual(await call(client, ['GET', 's:1']), Buffer.from('n=1'));
      const ttl = await call(client, ['PTTL', 's:1']);
      assert.ok(typeof ttl === 'number' && ttl > 50_000 && ttl <= 60_000, String(ttl));
      // 200 commands written in one turn: the replies come back in order.
      const burst = await Promise.all(Array.from({ length: 200 }, () => call(client, ['INCR', 'counter'])));
      assert.deepEqual(
        burst,
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      await assert.rejects(call(client, ['NOSUCHCOMMAND']), /ERR/);
      await stopRedis(redis);
      assert.ok(await becomes(() => !client.up, 5000), 'noticed Redis is gone');
      const t0 = Date.now();
      await assert.rejects(call(client, ['GET', 's:1']), /unavailable/);
      assert.ok(Date.now() - t0 < 100, 'a command fails at once while Redis is down');
      redis = await startRedis(dir, port);
      assert.ok(await becomes(() => client.up, 10_000), 'reconnected');
      assert.equal(await call(client, ['SET', 's:2', 'x', 'PX', '1000']), 'OK');
      assert.deepEqual(states.slice(0, 3), [true, false, true]);
    } finally {
      client.close();
      await stopRedis(redis);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
