import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { DataFolders } from '../data/folders.js';
import { connectRedis, type RedisConnections } from '../redis/connections.js';
import { RedisServerProcess } from '../redis/embedded.js';

export interface RedisRuntime extends RedisConnections {
  /** The private redis-server when Vigil started its own (no REDIS_URL / REDIS_SENTINELS). */
  embedded?: RedisServerProcess;
  url: string | undefined;
}

/**
 * Connects to the configured Redis, or starts a private redis-server under DATA_DIR/redis with AOF
 * on when none is configured (the embedded default), and connects to that.
 */
export async function openRedis(config: Config, folders: DataFolders, log: Logger): Promise<RedisRuntime> {
  let embedded: RedisServerProcess | undefined;
  let url = config.REDIS_URL;
  if (!url && !config.REDIS_SENTINELS) {
    embedded = new RedisServerProcess({ dir: folders.redis });
    await embedded.start();
    url = embedded.url;
    log.info({ port: embedded.port, dir: folders.redis }, 'started embedded redis-server (set REDIS_URL to use your own)');
  }
  let conns: RedisConnections;
  try {
    conns = await connectRedis(config, url, log);
  } catch (err) {
    await embedded?.stop();
    const where = config.REDIS_SENTINELS ? `sentinels ${config.REDIS_SENTINELS.map((s) => `${s.host}:${s.port}`).join(',')}` : redactUrl(url);
    throw new Error(`cannot connect to Redis at ${where}: ${(err as Error).message}`);
  }
  return {
    ...conns,
    embedded,
    url,
    async close() {
      await conns.close();
      await embedded?.stop();
    },
  };
}

export function redactUrl(url: string | undefined): string {
  return url ? url.replace(/\/\/([^@/]*)@/, '//***@') : '(none)';
}
