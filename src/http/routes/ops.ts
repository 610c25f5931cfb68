import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/index.js';
import type { Keys } from '../../redis/keys.js';
import type { VigilRedis } from '../../redis/scripts.js';
import type { TaggedCache } from '../cache.js';
import type { LiveEvents } from '../events.js';
import { pingRedis } from '../health.js';
import type { VigilMetrics } from '../metrics.js';

export interface GatewayView {
  stats: { connections: number; authenticated: number; framesStored: number; framesRejected: number; lastFrameAt: number | null };
}

/** The vision pool's counters (src/vision/pool.ts `stats()`), read at scrape time. */
export interface VisionView {
  stats(): { analysed: number; meanMs: number; busy: number };
}

export interface OpsRouteDeps {
  config: Config;
  redis: VigilRedis;
  keys: Keys;
  cache: TaggedCache;
  live: LiveEvents;
  metrics: VigilMetrics;
  gateway?: GatewayView;
  vision?: VisionView;
}

/** Parses `INFO`'s `key:value` lines. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const mb = (v: string | undefined) => (v === undefined ? null : Math.round((Number(v) / 1_048_576) * 100) / 100);

export async function opsRoutes(app: FastifyInstance, deps: OpsRouteDeps): Promise<void> {
  const { redis, metrics, gateway } = deps;

  /** Readiness (seed 003's health check): Redis ping, memory, clients, persistence, replication, slow log. */
  app.get('/health/ready', async (_req, reply) => {
    const ping = await pingRedis(redis);
    metrics.redisUp.set(ping.up ? 1 : 0);
    if (ping.pingMs !== undefined) metrics.redisLatencyMs.observe(ping.pingMs);
    const body: Record<string, unknown> = { status: ping.up ? 'ok' : 'unhealthy', checkedAt: new Date().toISOString(), redis: { ping } };
    if (ping.up) {
      try {
        const info = parseInfo(await redis.info());
        const slow = (await redis.call('SLOWLOG', 'GET', '10')) as [number, number, number, string[], ...unknown[]][];
        body.redis = {
          ping,
          version: info.redis_version,
          memory: { usedMb: mb(info.used_memory), peakMb: mb(info.used_memory_peak), rssMb: mb(info.used_memory_rss), fragmentation: Number(info.mem_fragmentation_ratio) },
          clients: { connected: Number(info.connected_clients), blocked: Number(info.blocked_clients) },
          persistence: {
            aofEnabled: info.aof_enabled === '1',
            rdbLastSaveAt: info.rdb_last_save_time ? new Date(Number(info.rdb_last_save_time) * 1000).toISOString() : null,
            rdbChangesSinceSave: Number(info.rdb_changes_since_last_save),
            lastBgsaveStatus: info.rdb_last_bgsave_status,
          },
          replication: { role: info.role, connectedReplicas: Number(info.connected_slaves ?? 0) },
          slowLog: slow.map(([id, at, micros, args]) => ({ id, at: new Date(at * 1000).toISOString(), durationUs: micros, command: args.slice(0, 4).join(' ').slice(0, 120) })),
        };
      } catch (err) {
        body.status = 'degraded';
        body.redisInfoError = (err as Error).message;
      }
    }
    body.process = { uptimeSec: Math.round(process.uptime()), rssMb: mb(String(process.memoryUsage().rss)), heapUsedMb: mb(String(process.memoryUsage().heapUsed)) };
    if (gateway) body.gateway = { ...gateway.stats, lastFrameAt: gateway.stats.lastFrameAt ? new Date(gateway.stats.lastFrameAt).toISOString() : null };
    body.cache = { hits: deps.cache.hits, misses: deps.cache.misses };
    body.liveListeners = deps.live.listeners;
    return reply.status(body.status === 'unhealthy' ? 503 : 200).send(body);
  });

  let analysedSeen = 0;
  let framesSeen = 0;
  let rejectedSeen = 0;
  app.get('/metrics', { config: { public: deps.config.METRICS_PUBLIC } }, async (_req, reply) => {
    // Scrape-time samples: the gateway's own counters and the queue depths live elsewhere.
    if (gateway) {
      const s = gateway.stats;
      metrics.framesIn.inc(Math.max(0, s.framesStored - framesSeen));
      metrics.framesRejected.inc(Math.max(0, s.framesRejected - rejectedSeen));
      framesSeen = s.framesStored;
      rejectedSeen = s.framesRejected;
      metrics.agents.set(s.authenticated);
    }
    if (deps.vision) {
      const v = deps.vision.stats();
      metrics.framesAnalysed.inc(Math.max(0, v.analysed - analysedSeen));
      analysedSeen = v.analysed;
      metrics.analysisMeanMs.set(v.meanMs);
      metrics.visionBusy.set(v.busy);
    }
    const ping = await pingRedis(redis);
    metrics.redisUp.set(ping.up ? 1 : 0);
    if (ping.up) {
      metrics.redisLatencyMs.observe(ping.pingMs!);
      try {
        metrics.queueDepth.set({ queue: 'ready_clients' }, await redis.zcard(deps.keys.ready));
        metrics.queueDepth.set({ queue: 'connected_clients' }, await redis.scard(deps.keys.clients));
      } catch {
        // Redis vanished between the ping and the read; the next scrape fills the gauges.
      }
    }
    metrics.cacheLookups.reset();
    metrics.cacheLookups.inc({ result: 'hit' }, deps.cache.hits);
    metrics.cacheLookups.inc({ result: 'miss' }, deps.cache.misses);
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  /** Server-Sent Events: `clients`, `status`, `action`, `users` and other parts' `event`s. */
  app.get('/api/events', async (req, reply) => {
    reply.hijack();
    deps.live.attach(reply.raw);
    req.raw.on('close', () => reply.raw.end());
  });
}
