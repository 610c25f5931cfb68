import { z } from 'zod';
import type { Logger } from 'pino';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';

const idList = z.array(z.string());

/**
 * The Redis side of the vision scheduler: takes ready clients (oldest first, skipping paused/blocked
 * and leased ones), releases them, puts a client back at the front after a lost worker.
 */
export class ReadyQueue {
  private skip: { at: number; ids: string[] } = { at: -Infinity, ids: [] };

  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
    private readonly o: { leaseMs: number; scan?: number; statusCacheMs?: number; log?: Logger },
  ) {}

  /** Paused and blocked clients from the status manager's Clients_status hash (seed 001), cached ≤ 0.5 s. */
  async skipped(now = Date.now()): Promise<string[]> {
    if (now - this.skip.at < (this.o.statusCacheMs ?? 500)) return this.skip.ids;
    const [paused, blocked] = await this.redis.hmget(this.keys.clientsStatus, 'paused_clients', 'blocked_clients');
    const parse = (field: string, raw: string | null | undefined): string[] => {
      if (!raw) return [];
      try {
        return idList.parse(JSON.parse(raw));
      } catch {
        this.o.log?.warn({ field }, 'Clients_status field is not a JSON array of ids; ignored');
        return [];
      }
    };
    this.skip = { at: now, ids: [...parse('paused_clients', paused), ...parse('blocked_clients', blocked)] };
    return this.skip.ids;
  }

  async take(now = Date.now()): Promise<{ id: string; readySince: number } | undefined> {
    const skip = await this.skipped(now);
    const r = await this.redis.takeReady(this.keys.ready, this.keys.visionLeases, now, this.o.leaseMs, this.o.scan ?? 64, JSON.stringify(skip));
    return r ? { id: r[0], readySince: Number(r[1]) } : undefined;
  }

  async release(id: string): Promise<void> {
    await this.redis.zrem(this.keys.visionLeases, id);
  }

  /** Back to the front of the ready set (LT keeps the earlier score if a new frame re-added it meanwhile). */
  async requeue(id: string, readySince: number): Promise<void> {
    await this.redis.multi().zrem(this.keys.visionLeases, id).zadd(this.keys.ready, 'LT', readySince, id).exec();
  }
}
