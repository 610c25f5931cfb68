import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Vigil's Prometheus metrics. One instance per process (`vigilMetrics`): the gateway, the vision
 * workers and the decision step import it and increment; /metrics renders its registry.
 */
export function createVigilMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vigil_process_' });
  return {
    registry,
    framesIn: new Counter({ name: 'vigil_frames_in_total', help: 'Frames accepted from agents and stored as a latest frame', registers: [registry] }),
    framesRejected: new Counter({ name: 'vigil_frames_rejected_total', help: 'Frames refused (too large, not an image, storage down)', registers: [registry] }),
    framesAnalysed: new Counter({ name: 'vigil_frames_analysed_total', help: 'Frames analysed by the vision workers', registers: [registry] }),
    analysisMs: new Histogram({
      name: 'vigil_analysis_ms',
      help: 'Time to analyse one frame, milliseconds',
      buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers: [registry],
    }),
    analysisMeanMs: new Gauge({ name: 'vigil_analysis_mean_ms', help: "Mean analysis time per frame since start, from the vision pool's own counters", registers: [registry] }),
    visionBusy: new Gauge({ name: 'vigil_vision_workers_busy', help: 'Vision workers analysing a frame right now', registers: [registry] }),
    actions: new Counter({ name: 'vigil_actions_total', help: 'Actions decided, by action and reason', labelNames: ['action', 'reason'] as const, registers: [registry] }),
    queueDepth: new Gauge({ name: 'vigil_queue_depth', help: 'Items waiting, by queue', labelNames: ['queue'] as const, registers: [registry] }),
    agents: new Gauge({ name: 'vigil_agents_connected', help: 'Authenticated agent connections on this process', registers: [registry] }),
    redisLatencyMs: new Histogram({
      name: 'vigil_redis_latency_ms',
      help: 'Redis PING round trip, milliseconds',
      buckets: [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 500],
      registers: [registry],
    }),
    redisUp: new Gauge({ name: 'vigil_redis_up', help: '1 when Redis answered the last PING', registers: [registry] }),
    httpRequests: new Counter({ name: 'vigil_http_requests_total', help: 'Admin API requests by route and status', labelNames: ['route', 'status'] as const, registers: [registry] }),
    rateLimited: new Counter({ name: 'vigil_rate_limited_total', help: 'Requests refused by a rate limit, by route', labelNames: ['route'] as const, registers: [registry] }),
    cacheLookups: new Counter({ name: 'vigil_cache_lookups_total', help: 'Admin API cache lookups by result', labelNames: ['result'] as const, registers: [registry] }),
  };
}

export type VigilMetrics = ReturnType<typeof createVigilMetrics>;

export const vigilMetrics: VigilMetrics = createVigilMetrics();
