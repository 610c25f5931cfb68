import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import websocket from '@fastify/websocket';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Gateway } from '../gateway/gateway.js';
import type { VigilRedis } from '../redis/scripts.js';
import { pingRedis } from './health.js';

export interface HttpDeps {
  config: Config;
  log: Logger;
  redis: VigilRedis;
  gateway: Gateway;
  /** Further route plugins (admin API, dashboard), registered after the public routes. */
  plugins?: FastifyPluginAsync[];
}

/**
 * One fastify server per process: the agent WebSocket at /v1/agent, the public liveness route,
 * and whatever plugins the other parts register. Errors are JSON `{error: {code, message}}`;
 * a 5xx is logged in full and answered without details.
 */
export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const { config, gateway } = deps;
  const app = Fastify({
    // Requests are not logged one by one (agents poll, dashboards stream); warnings and errors are.
    loggerInstance: deps.log.child({ part: 'http' }, { level: deps.log.levelVal > 40 ? deps.log.level : 'warn' }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    trustProxy: false,
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return reply.status(status).send({ error: { code: 'internal', message: 'Internal Server Error' } });
    }
    return reply.status(status).send({ error: { code: err.code ?? 'bad_request', message: err.message } });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } }));

  // The hard cap closes the socket (ws's maxPayload); frames between FRAME_MAX_BYTES and it get a
  // `frame_too_large` error and the connection stays.
  await app.register(websocket, { options: { maxPayload: config.FRAME_MAX_BYTES * 4 + 1024 } });
  app.get('/v1/agent', { websocket: true }, (socket, req) => gateway.handle(socket, req.ip));

  /** Public liveness: is the process serving, is Redis reachable, are frames arriving. */
  app.get('/health', async (_req, reply) => {
    const redis = await pingRedis(deps.redis);
    const s = gateway.stats;
    const body = {
      status: redis.up ? 'ok' : 'unhealthy',
      redis,
      gateway: {
        connections: s.connections,
        agents: s.authenticated,
        framesStored: s.framesStored,
        framesRejected: s.framesRejected,
        lastFrameAt: s.lastFrameAt ? new Date(s.lastFrameAt).toISOString() : null,
      },
      uptimeSec: Math.round(process.uptime()),
    };
    return reply.status(redis.up ? 200 : 503).send(body);
  });

  for (const plugin of deps.plugins ?? []) await app.register(plugin);
  return app;
}
