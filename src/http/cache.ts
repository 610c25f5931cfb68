import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';

/** Tags the admin API caches under; a change to one of these invalidates every entry tagged with it. */
export type CacheTag = 'clients' | 'states' | 'users' | 'actions';

/**
 * Seed 003's cache with tags: entries are JSON strings under `cache:<name>` with a TTL, and each tag
 * is a set of the entry keys it covers; invalidating a tag deletes its entries and the set. Shared
 * by every process (an invalidation in one is seen by all). A Redis failure makes the cache a
 * pass-through rather than an error.
 */
export class TaggedCache {
  hits = 0;
  misses = 0;

  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
  ) {}

  async wrap<T>(name: string, tags: CacheTag[], ttlSec: number, compute: () => Promise<T>): Promise<T> {
    const key = this.keys.cache(name);
    try {
      const cached = await this.redis.get(key);
      if (cached !== null) {
        this.hits++;
        return JSON.parse(cached) as T;
      }
    } catch {
      return compute();
    }
    this.misses++;
    const value = await compute();
    const m = this.redis.multi().set(key, JSON.stringify(value), 'EX', ttlSec);
    // The tag set outlives its entries a little, so it never forgets a live entry.
    for (const tag of tags) m.sadd(this.keys.cacheTag(tag), key).expire(this.keys.cacheTag(tag), ttlSec + 60, 'GT').expire(this.keys.cacheTag(tag), ttlSec + 60, 'NX');
    await m.exec().catch(() => undefined);
    return value;
  }

  /** Deletes every entry carrying any of the tags; returns how many entries went. */
  async invalidate(...tags: CacheTag[]): Promise<number> {
    let removed = 0;
    for (const tag of tags) {
      const tagKey = this.keys.cacheTag(tag);
      const members = await this.redis.smembers(tagKey);
      const res = await this.redis.del(tagKey, ...members);
      removed += Math.max(0, res - 1);
    }
    return removed;
  }
}
