import { randomUUID } from 'node:crypto';
import type { VigilRedis } from '../redis/scripts.js';

/**
 * A lease in Redis that lets exactly one status manager write at a time: SET NX PX to take it,
 * owner-checked Lua to renew and release it. A holder that dies stops renewing, so the lease ends
 * and a standby takes it on its next try (within ttl + one cycle).
 */
export class ManagerLock {
  private holding = false;
  private renewedAt = 0;

  constructor(
    private readonly redis: VigilRedis,
    readonly key: string,
    readonly ttlMs: number,
    readonly owner: string = randomUUID(),
  ) {}

  get held(): boolean {
    return this.holding;
  }

  /**
   * Takes the lock if it is free, or renews it if this owner holds it. Returns whether it is held now.
   * A holder renews once a third of the lease has passed, not on every call: each renewal is a write
   * in Redis's AOF, and the status cycle calls this twice a second.
   */
  async acquire(): Promise<boolean> {
    if (this.holding) return Date.now() - this.renewedAt < this.ttlMs / 3 ? true : this.renew();
    const startedAt = Date.now();
    this.holding = (await this.redis.set(this.key, this.owner, 'PX', this.ttlMs, 'NX')) === 'OK';
    if (this.holding) this.renewedAt = startedAt;
    return this.holding;
  }

  /** Extends the lease; false (and no longer held) when another owner has it. */
  async renew(): Promise<boolean> {
    const startedAt = Date.now();
    this.holding = (await this.redis.managerLockRenew(this.key, this.owner, this.ttlMs)) === 1;
    if (this.holding) this.renewedAt = startedAt;
    return this.holding;
  }

  async release(): Promise<boolean> {
    const wasHeld = this.holding;
    this.holding = false;
    if (!wasHeld) return false;
    return (await this.redis.managerLockRelease(this.key, this.owner)) === 1;
  }
}
