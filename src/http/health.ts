import type { VigilRedis } from '../redis/scripts.js';

export interface RedisHealth {
  up: boolean;
  pingMs?: number;
  error?: string;
}

/** Pings Redis with a short deadline; never throws. */
export async function pingRedis(redis: VigilRedis, timeoutMs = 500): Promise<RedisHealth> {
  const started = performance.now();
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
    return { up: true, pingMs: Math.round((performance.now() - started) * 100) / 100 };
  } catch (err) {
    return { up: false, error: (err as Error).message };
  }
}
