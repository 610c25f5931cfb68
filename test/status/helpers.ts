import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext } from 'node:test';
import type { Config } from '../../src/config/index.js';
import { dataFolders } from '../../src/data/folders.js';
import { createLogger } from '../../src/log.js';
import type { Keys } from '../../src/redis/keys.js';
import type { VigilRedis } from '../../src/redis/scripts.js';
import { ClientsData } from '../../src/clients/clientsData.js';
import { startStatusManager, type StatusManager } from '../../src/clients/statusManager.js';
import type { StatusEvent } from '../../src/clients/statusPolicy.js';

export const silentLog = createLogger(process.env.STATUS_TEST_LOG ?? 'silent');

/** A temp DATA_DIR with the given users enrolled (a folder each), removed when the file's tests end. */
export async function tempDataDir(users: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-status-'));
  after(() => rm(dir, { recursive: true, force: true }));
  for (const u of users) await mkdir(join(dir, 'Users_DataBase', u), { recursive: true });
  return dir;
}

export function serverDataDir(config: Config): string {
  return dataFolders(config).serverData;
}

/**
 * Starts managers that are stopped when the test ends. Call it first in a test: hooks run in the
 * order they were registered, and the managers must stop before the test's connections close and
 * its DATA_DIR is removed.
 */
export function managers(t: TestContext): { start(config: Config, redis: VigilRedis, keys: Keys, subscriber?: VigilRedis, watchFiles?: boolean): Promise<StatusManager> } {
  const started: StatusManager[] = [];
  t.after(async () => {
    await Promise.all(started.map((m) => m.stop()));
  });
  return {
    async start(config, redis, keys, subscriber, watchFiles) {
      const m = await startStatusManager({ config, log: silentLog, redis, keys, subscriber, watchFiles });
      started.push(m);
      return m;
    },
  };
}

export async function pendingReasons(redis: VigilRedis, keys: Keys, id: string): Promise<number[]> {
  return (await new ClientsData(redis, keys, id).pendingActions()).map((a) => a.reason);
}

export async function statusField(redis: VigilRedis, keys: Keys, field: string): Promise<string[]> {
  const raw = await redis.hget(keys.clientsStatus, field);
  return raw ? (JSON.parse(raw) as string[]) : [];
}

/** Collects the JSON events published on the status channel. */
export async function collectEvents(subscriber: VigilRedis, keys: Keys): Promise<StatusEvent[]> {
  const events: StatusEvent[] = [];
  await subscriber.subscribe(keys.channels.status);
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === keys.channels.status) events.push(JSON.parse(message) as StatusEvent);
  });
  return events;
}
