import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import type { ActionMessage } from '../domain/protocol.js';

/** How many unread received-data items a client may pile up before the oldest are dropped. */
const RECEIVED_CAP = 1_000;

/**
 * Seed 000's ClientsData on Redis: a client's received-data queue, action queue, existence flag
 * and metadata. Actions are peeked for delivery and leave the queue only when acked (ackAction),
 * so neither a gateway crash nor a reconnect loses one; dequeueAction keeps the seed's pop.
 */
export class ClientsData {
  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
    readonly clientId: string,
  ) {}

  async clientExists(): Promise<boolean> {
    return (await this.redis.exists(this.keys.exists(this.clientId))) === 1;
  }

  async markExists(): Promise<void> {
    await this.redis.set(this.keys.exists(this.clientId), '1');
  }

  async enqueueReceivedData(data: unknown): Promise<void> {
    const key = this.keys.received(this.clientId);
    await this.redis.multi().rpush(key, JSON.stringify(data)).ltrim(key, -RECEIVED_CAP, -1).exec();
  }

  async dequeueReceivedData<T = unknown>(): Promise<T | undefined> {
    const raw = await this.redis.lpop(this.keys.received(this.clientId));
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  /** Appends an action and wakes whichever gateway holds the client's socket. */
  async enqueueAction(action: ActionMessage): Promise<void> {
    await this.redis
      .multi()
      .rpush(this.keys.actions(this.clientId), JSON.stringify(action))
      .publish(this.keys.channels.actions, this.clientId)
      .exec();
  }

  /** The seed's pop; delivery uses pendingActions + ackAction instead. */
  async dequeueAction(): Promise<ActionMessage | undefined> {
    const raw = await this.redis.lpop(this.keys.actions(this.clientId));
    return raw === null ? undefined : (JSON.parse(raw) as ActionMessage);
  }

  async pendingActions(): Promise<ActionMessage[]> {
    const raw = await this.redis.lrange(this.keys.actions(this.clientId), 0, -1);
    return raw.flatMap((r) => {
      try {
        return [JSON.parse(r) as ActionMessage];
      } catch {
        return [];
      }
    });
  }

  async ackAction(actionId: string): Promise<boolean> {
    return (await this.redis.ackAction(this.keys.actions(this.clientId), actionId)) === 1;
  }

  async setMetadata(metadata: Record<string, string | number | boolean>): Promise<void> {
    const fields = Object.entries(metadata).flatMap(([k, v]) => [k, String(v)]);
    if (fields.length) await this.redis.hset(this.keys.metadata(this.clientId), ...fields);
  }

  async getMetadata(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.metadata(this.clientId));
  }

  async deleteClient(): Promise<void> {
    const k = this.keys;
    const id = this.clientId;
    await this.redis.del(k.received(id), k.actions(id), k.exists(id), k.metadata(id));
  }
}
