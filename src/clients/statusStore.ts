import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import { inputLists, sortedUnique, statusField, type ChangeKind, type InputList, type StatusEvent } from './statusPolicy.js';

export type StatusFieldName = (typeof statusField)[keyof typeof statusField];

export interface StatusRecord {
  /** The raw field values as read, for compare-and-set. */
  raw: Partial<Record<StatusFieldName, string>>;
  lists: Record<StatusFieldName, string[]>;
}

function decodeList(raw: string | undefined): string[] {
  if (!raw) return [];
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? sortedUnique(v.filter((x): x is string => typeof x === 'string')) : [];
  } catch {
    return [];
  }
}

/** Same text the Lua scripts write (cjson): a compact, sorted JSON array. */
export const encodeList = (ids: Iterable<string>): string => JSON.stringify(sortedUnique(ids));

const allFields = Object.values(statusField) as StatusFieldName[];

/**
 * Redis side of the client states: seed 001's Clients_status hash (each field a JSON array of
 * client ids), the merge base, the live-connection sets of the gateways and the status channel.
 */
export class StatusStore {
  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
  ) {}

  async readStatus(): Promise<StatusRecord> {
    const raw = (await this.redis.hgetall(this.keys.clientsStatus)) as Partial<Record<StatusFieldName, string>>;
    const lists = Object.fromEntries(allFields.map((f) => [f, decodeList(raw[f])])) as Record<StatusFieldName, string[]>;
    return { raw, lists };
  }

  async readList(list: InputList | 'active'): Promise<string[]> {
    return decodeList((await this.redis.hget(this.keys.clientsStatus, statusField[list])) ?? undefined);
  }

  /** The merge base, or undefined when Redis has none (first start, or Redis lost its data). */
  async readSynced(): Promise<Record<InputList, string[]> | undefined> {
    const raw = await this.redis.hgetall(this.keys.clientsStatusSynced);
    if (inputLists.some((l) => raw[l] === undefined)) return undefined;
    return Object.fromEntries(inputLists.map((l) => [l, decodeList(raw[l])])) as Record<InputList, string[]>;
  }

  async writeSynced(lists: Record<InputList, string[]>): Promise<void> {
    await this.redis.hset(this.keys.clientsStatusSynced, Object.fromEntries(inputLists.map((l) => [l, encodeList(lists[l])])));
  }

  /** Atomically adds/removes `id` in each named field; returns, per field, whether it changed. */
  async change(id: string, ops: [StatusFieldName, ChangeKind][]): Promise<boolean[]> {
    const result = await this.redis.statusChange(this.keys.clientsStatus, id, ...ops.flat());
    return result.map((r) => r === 1);
  }

  /** Sets a field only if it still holds `expectedRaw` (undefined: the field must be absent). */
  async compareAndSet(field: StatusFieldName, expectedRaw: string | undefined, ids: Iterable<string>): Promise<boolean> {
    return (await this.redis.statusCas(this.keys.clientsStatus, field, expectedRaw ?? '', encodeList(ids))) === 1;
  }

  async publish(event: StatusEvent): Promise<void> {
    await this.redis.publish(this.keys.channels.status, JSON.stringify(event));
  }

  // Live connections. Each gateway process owns one set of the client ids it holds, with a lease it
  // renews; a gateway that dies stops renewing and its clients stop counting as active. The
  // `statusGateways` sorted set scores each gateway with its lease's end (epoch ms).

  async addConnection(instance: string, id: string, leaseMs: number, now = Date.now()): Promise<void> {
    const key = this.keys.statusGateway(instance);
    await this.redis.multi().sadd(key, id).pexpire(key, leaseMs).zadd(this.keys.statusGateways, now + leaseMs, instance).exec();
  }

  async removeConnection(instance: string, id: string): Promise<void> {
    await this.redis.srem(this.keys.statusGateway(instance), id);
  }

  /** Rewrites a gateway's whole set from its own sockets (also after Redis lost its data). */
  async renewGateway(instance: string, ids: readonly string[], leaseMs: number, now = Date.now()): Promise<void> {
    const key = this.keys.statusGateway(instance);
    const tx = this.redis.multi().del(key);
    if (ids.length) tx.sadd(key, ...ids).pexpire(key, leaseMs);
    await tx.zadd(this.keys.statusGateways, now + leaseMs, instance).exec();
  }

  async dropGateway(instance: string): Promise<void> {
    await this.redis.multi().del(this.keys.statusGateway(instance)).zrem(this.keys.statusGateways, instance).exec();
  }

  /** Every client with a live agent connection on any gateway. */
  async liveClients(now = Date.now()): Promise<string[]> {
    const gateways = await this.redis.zrangebyscore(this.keys.statusGateways, now, '+inf');
    // Leases that ended a while ago belong to dead gateways.
    await this.redis.zremrangebyscore(this.keys.statusGateways, '-inf', now - 60_000);
    if (!gateways.length) return [];
    const pipeline = this.redis.pipeline();
    for (const g of gateways) pipeline.smembers(this.keys.statusGateway(g));
    const results = (await pipeline.exec()) ?? [];
    return sortedUnique(results.flatMap(([err, ids]) => (err ? [] : (ids as string[]))));
  }
}
