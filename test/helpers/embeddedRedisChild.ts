/**
 * A stand-in for `vigil serve` in test/embeddedRedis.test.ts: starts the embedded redis-server on the folder in
 * argv[2], prints READY, and on SIGINT (Ctrl-C) writes a key 300 ms later — as Vigil writes its last status changes
 * and audit records while it stops (closing sockets, finishing analyses and evidence takes that long) — before it
 * stops the server, last. (Redis acts on a signal at its next cron tick, within ~100 ms.)
 */
import { Redis } from 'ioredis';
import { RedisServerProcess } from '../../src/redis/embedded.js';

const server = new RedisServerProcess({ dir: process.argv[2]! });
await server.start();
process.on('SIGINT', () => {
  void (async () => {
    const redis = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    let code = 0;
    await new Promise((r) => setTimeout(r, 300));
    try {
      await redis.set('written-while-stopping', 'yes');
    } catch {
      code = 3;
    }
    redis.disconnect();
    await server.stop();
    process.exit(code);
  })();
});
process.stdout.write('READY\n');
setInterval(() => {}, 1_000);
