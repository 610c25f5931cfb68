import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ClientRegistry } from '../clients/registry.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import type { CacheTag, TaggedCache } from './cache.js';

export type LiveEventName = 'clients' | 'status' | 'action' | 'event' | 'users';

/**
 * Live updates for dashboards. Listens on the pub/sub channels (state changes, new actions, other
 * parts' JSON events), invalidates the cache tags they affect, and fans the news out to every
 * Server-Sent Events stream. While someone listens it also watches the client registry once a
 * second and announces new frames, arrivals and departures.
 */
export class LiveEvents {
  private readonly streams = new Set<ServerResponse>();
  private poller: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private lastSignature = '';
  private started = false;

  constructor(
    private readonly deps: {
      subscriber: VigilRedis;
      registry: ClientRegistry;
      redis: VigilRedis;
      keys: Keys;
      cache: TaggedCache;
      log: Logger;
      pollMs?: number;
      /** Called with every JSON event of the events channel (metrics count the actions). */
      onEvent?: (event: { type: string } & Record<string, unknown>) => void;
    },
  ) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    const { subscriber, keys, log } = this.deps;
    subscriber.on('message', this.onMessage);
    // Never unsubscribed: the gateway's action delivery shares this connection and channel.
    // Not awaited: with Redis away the subscription waits for the reconnect and must not hold up start-up.
    subscriber.subscribe(keys.channels.events, keys.channels.status, keys.channels.actions).catch((err: Error) => log.warn({ err: err.message }, 'live events subscribe failed'));
    this.keepalive = setInterval(() => this.write(': keepalive\n\n'), 15_000);
    this.keepalive.unref();
  }

  private readonly onMessage = (channel: string, message: string): void => {
    const { keys } = this.deps;
    if (channel === keys.channels.status) {
      void this.invalidate('states', 'clients');
      this.broadcast('status', { clientId: message });
    } else if (channel === keys.channels.actions) {
      void this.invalidate('actions', 'clients');
      this.broadcast('action', { clientId: message });
    } else if (channel === keys.channels.events) {
      let data: unknown;
      try {
        data = JSON.parse(message);
      } catch {
        return;
      }
      const type = typeof data === 'object' && data && 'type' in data ? String((data as { type: unknown }).type) : '';
      if (/user|enrol/i.test(type)) void this.invalidate('users');
      if (/action|decision/i.test(type)) void this.invalidate('actions', 'clients');
      if (/status|state/i.test(type)) void this.invalidate('states', 'clients');
      try {
        this.deps.onEvent?.({ ...(data as Record<string, unknown>), type });
      } catch {
        // A metrics hiccup must not stop live updates.
      }
      this.broadcast('event', data);
    }
  };

  /** Never rejects: a failed invalidation leaves entries to their short TTL. */
  async invalidate(...tags: CacheTag[]): Promise<void> {
    await this.deps.cache.invalidate(...tags).catch(() => undefined);
  }

  attach(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    this.streams.add(res);
    res.on('close', () => {
      this.streams.delete(res);
      if (this.streams.size === 0) this.stopPolling();
    });
    this.lastSignature = '';
    this.startPolling();
  }

  get listeners(): number {
    return this.streams.size;
  }

  broadcast(event: LiveEventName, data: unknown): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(chunk: string): void {
    for (const res of this.streams) res.write(chunk);
  }

  private startPolling(): void {
    if (this.poller) return;
    this.poller = setInterval(() => void this.poll(), this.deps.pollMs ?? 1_000);
    this.poller.unref();
    void this.poll();
  }

  private stopPolling(): void {
    clearInterval(this.poller);
    this.poller = undefined;
  }

  private async poll(): Promise<void> {
    const { registry, redis, keys } = this.deps;
    try {
      const ids = await registry.getAllClients();
      const p = redis.pipeline();
      for (const id of ids) p.hget(keys.image(id), 'frame_number');
      const seqs = ((await p.exec()) ?? []).map((r) => (r[1] === null ? null : Number(r[1])));
      const clients = ids.map((id, i) => ({ id, seq: seqs[i] ?? null }));
      const signature = JSON.stringify(clients);
      if (signature === this.lastSignature) return;
      this.lastSignature = signature;
      this.broadcast('clients', { clients });
    } catch {
      // Redis away: the dashboard shows /health; polling resumes by itself.
    }
  }

  close(): void {
    this.stopPolling();
    clearInterval(this.keepalive);
    this.deps.subscriber.off('message', this.onMessage);
    for (const res of this.streams) res.end();
    this.streams.clear();
  }
}
