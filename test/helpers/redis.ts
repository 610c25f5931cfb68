import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { RedisServerProcess } from '../../src/redis/embedded.js';
import { createConnection, type RedisConnections } from '../../src/redis/connections.js';
import { createKeys } from '../../src/redis/keys.js';
import { loadConfig, type Config } from '../../src/config/index.js';

/**
 * A private redis-server for one test file, on a free port, with AOF on (so restarts keep data).
 * Never the shared 6379, never FLUSHALL: each test takes a random namespace instead.
 */
export async function startTestRedis(): Promise<{ server: RedisServerProcess; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-redis-'));
  const server = new RedisServerProcess({ dir });
  await server.start();
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { server, dir };
}

export function randomNamespace(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

export function testConfig(overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  return loadConfig({}, { NAMESPACE: randomNamespace(), LOG_LEVEL: 'silent', ...overrides });
}

/** Three connections to the test server, closed when the file's tests end. */
export async function connectTest(server: RedisServerProcess, config: Config): Promise<RedisConnections & { keys: ReturnType<typeof createKeys> }> {
  const redis = createConnection(config, server.url, 'normal');
  const blocking = createConnection(config, server.url, 'blocking');
  const subscriber = createConnection(config, server.url, 'subscriber');
  await Promise.all([redis.connect(), blocking.connect(), subscriber.connect()]);
  const conns = {
    redis,
    blocking,
    subscriber,
    keys: createKeys(config.NAMESPACE),
    async close() {
      for (const c of [redis, blocking, subscriber]) c.disconnect();
    },
  };
  after(() => conns.close());
  return conns;
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, { timeoutMs = 5_000, intervalMs = 25, what = 'condition' } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
