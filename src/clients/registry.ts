import type { Keys } from '../redis/keys.js';
import { storeFrame, storeFramePrefix, storeFrameSuffix, type VigilRedis } from '../redis/scripts.js';
import type { FrameFormat } from '../domain/protocol.js';

export interface ClientMetadata {
  connected_at?: string;
  last_seen?: string;
  last_seen_ms?: string;
  status?: string;
  address?: string;
  agent?: string;
}

export interface StoredFrame {
  data: Buffer;
  size: number;
  format: FrameFormat;
  timestamp: string;
  tsMs: number;
  frameNumber: number;
}

let lastMs = NaN;
let lastSuffix: Partial<Record<FrameFormat, string>> = {};

/** storeFrame's format + time arguments, made once per format and millisecond (frames of many agents share one). */
function suffixAt(format: FrameFormat, ms: number): string {
  if (ms !== lastMs) {
    lastSuffix = {};
    lastMs = ms;
  }
  return (lastSuffix[format] ??= storeFrameSuffix(format, ms, new Date(ms).toISOString()));
}

/**
 * Seed 004's client tracking: the `clients` set, `client:{id}` metadata and `image:{id}` latest frame.
 * Frames are stored as raw bytes with their metadata, and a new frame marks the client ready.
 */
export class ClientRegistry {
  /** storeFrame's RESP text of keys and id, per client id. */
  private readonly framePrefixes = new Map<string, string>();

  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
  ) {}

  async addClient(id: string, info: { address?: string; agent?: string } = {}, now = new Date()): Promise<void> {
    const iso = now.toISOString();
    await this.redis
      .multi()
      .sadd(this.keys.clients, id)
      .zadd(this.keys.clientsSeen, now.getTime(), id)
      .del(this.keys.client(id))
      .hset(this.keys.client(id), {
        connected_at: iso,
        last_seen: iso,
        last_seen_ms: now.getTime(),
        status: 'connected',
        address: info.address ?? '',
        agent: info.agent ?? '',
      })
      .exec();
  }

  /** Removes a client with its metadata and latest frame (seed 004's removeClient). */
  async removeClient(id: string): Promise<void> {
    await this.redis.multi().srem(this.keys.clients, id).zrem(this.keys.clientsSeen, id).del(this.keys.client(id), this.keys.image(id)).zrem(this.keys.ready, id).exec();
  }

  async updateClientLastSeen(id: string, now = new Date()): Promise<void> {
    await this.redis.touchClient(this.keys.clients, this.keys.client(id), this.keys.clientsSeen, id, now.getTime(), now.toISOString());
  }

  async setStatus(id: string, status: string): Promise<void> {
    await this.redis.hset(this.keys.client(id), 'status', status);
  }

  /** Stores a frame as the client's latest and marks it ready; returns its frame_number. */
  storeFrame(id: string, data: Buffer, format: FrameFormat, now: Date | number = Date.now()): Promise<number> {
    // The hot path of the gateway: keys formatted once per client, the timestamp once per millisecond.
    let prefix = this.framePrefixes.get(id);
    if (prefix === undefined) {
      if (this.framePrefixes.size >= 100_000) this.framePrefixes.clear();
      const k = this.keys;
      prefix = storeFramePrefix(k.clients, k.client(id), k.image(id), k.ready, k.clientsSeen, id);
      this.framePrefixes.set(id, prefix);
    }
    return storeFrame(this.redis, prefix, data, suffixAt(format, typeof now === 'number' ? now : now.getTime()));
  }

  async getClientImage(id: string): Promise<StoredFrame | undefined> {
    const h = await this.redis.hgetallBuffer(this.keys.image(id));
    // The bytes are kept out of the AOF (storeFrame-5.lua): after a Redis restart they can be older than
    // frame_number, or gone; such a frame is not the client's latest and is not returned.
    if (!h.data || String(h.data_frame) !== String(h.frame_number)) return undefined;
    return {
      data: h.data,
      size: Number(h.size),
      format: String(h.format) as FrameFormat,
      timestamp: String(h.timestamp),
      tsMs: Number(h.ts_ms),
      frameNumber: Number(h.frame_number),
    };
  }

  async getAllClients(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.clients)).sort();
  }

  async getClientMetadata(id: string): Promise<ClientMetadata> {
    return this.redis.hgetall(this.keys.client(id));
  }

  /** Seed 004's getClientStats: total, list and each client's metadata. */
  async getClientStats(): Promise<{ totalClients: number; clientList: string[]; clientsWithMetadata: Record<string, ClientMetadata> }> {
    const clientList = await this.getAllClients();
    const pipeline = this.redis.pipeline();
    for (const id of clientList) pipeline.hgetall(this.keys.client(id));
    const results = (await pipeline.exec()) ?? [];
    const clientsWithMetadata: Record<string, ClientMetadata> = {};
    clientList.forEach((id, i) => (clientsWithMetadata[id] = (results[i]?.[1] ?? {}) as ClientMetadata));
    return { totalClients: clientList.length, clientList, clientsWithMetadata };
  }

  /**
   * Removes every client silent since before `cutoffMs`; returns the removed ids. Candidates come
   * from the `clients:seen` index (cheap when nobody is silent); members of `clients` missing from the
   * index (written by an older version, or by hand) are checked too, once, and indexed.
   */
  async removeSilentClients(cutoffMs: number): Promise<string[]> {
    const k = this.keys;
    const [silent, members, indexed] = await Promise.all([
      this.redis.zrangebyscore(k.clientsSeen, '-inf', `(${cutoffMs}`),
      this.redis.scard(k.clients),
      this.redis.zcard(k.clientsSeen),
    ]);
    const candidates = new Set(silent);
    if (members > indexed) {
      const seen = new Set(await this.redis.zrange(k.clientsSeen, 0, -1));
      for (const id of await this.redis.smembers(k.clients)) if (!seen.has(id)) candidates.add(id);
    }
    const removed: string[] = [];
    await Promise.all(
      [...candidates].map(async (id) => {
        if ((await this.redis.removeIfSilent(k.clients, k.client(id), k.image(id), k.clientsSeen, id, cutoffMs)) === 1) removed.push(id);
      }),
    );
    if (removed.length) await this.redis.zrem(this.keys.ready, ...removed);
    return removed.sort();
  }
}
