import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { startVigil, type Vigil } from '../../src/app/vigil.js';
import { createLogger } from '../../src/log.js';
import type { Config } from '../../src/config/index.js';
import type { RedisServerProcess } from '../../src/redis/embedded.js';
import { testConfig } from './redis.js';

/** A whole Vigil on a free port, a temp DATA_DIR and the test's redis-server; stopped after the file. */
type RunningGateway = Vigil & Required<Pick<Vigil, 'gateway' | 'http' | 'url'>> & { wsUrl: string };

/** Without vision by default (model loading takes seconds); pass ROLES to include it. */
export async function startTestVigil(
  server: RedisServerProcess,
  overrides: Partial<Record<keyof Config, unknown>> = {},
  /** Fills the fresh DATA_DIR before start (users, policy files); may return more settings. */
  prepare?: (dataDir: string) => Promise<Partial<Record<keyof Config, unknown>> | void>,
): Promise<RunningGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-data-'));
  const prepared = (await prepare?.(dataDir)) ?? {};
  const config = testConfig({ REDIS_URL: server.url, PORT: 0, DATA_DIR: dataDir, ROLES: 'gateway,manager', UNENROLLED_CLIENTS: 'allow', ...overrides, ...prepared });
  const vigil = await startVigil(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
  after(async () => {
    await vigil.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  if (!vigil.gateway || !vigil.http || !vigil.url) throw new Error('startTestVigil needs the gateway role');
  return Object.assign(vigil, { wsUrl: `${vigil.url.replace(/^http/, 'ws')}/v1/agent` }) as RunningGateway;
}
