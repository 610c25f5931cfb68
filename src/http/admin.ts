import type { FastifyError, FastifyInstance, FastifyPluginAsync } from 'fastify';
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import type { Logger } from 'pino';
import type { ClientRegistry } from '../clients/registry.js';
import type { Config } from '../config/index.js';
import { dataFolders } from '../data/folders.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import { AuditStreamActions, folderUsersService } from './adapters.js';
import { AdminAccountStore } from './auth/accounts.js';
import { ApiKeyStore } from './auth/apiKeys.js';
import { createAuthHook } from './auth/guard.js';
import { SessionStore } from './auth/sessions.js';
import { TaggedCache } from './cache.js';
import { HttpError } from './errors.js';
import { LiveEvents } from './events.js';
import { vigilMetrics, type VigilMetrics } from './metrics.js';
import { RateLimits } from './rateLimits.js';
import { actionRoutes } from './routes/actions.js';
import { authRoutes } from './routes/auth.js';
import { clientRoutes } from './routes/clients.js';
import { opsRoutes, type GatewayView, type VisionView } from './routes/ops.js';
import { userRoutes } from './routes/users.js';
import type { ActionsService, StatusService, UsersService } from './services.js';
import { webRoutes } from './web.js';

export interface AdminDeps {
  config: Config;
  log: Logger;
  redis: VigilRedis;
  /** The subscriber connection (shared with the gateway's action delivery; never unsubscribed here). */
  subscriber: VigilRedis;
  keys: Keys;
  registry: ClientRegistry;
  /** The gateway (its `stats`) for /health/ready and /metrics; optional in API-only processes. */
  gateway?: GatewayView;
  /** The vision pool (its `stats()`) for /metrics: frames analysed, mean analysis time, busy workers. */
  vision?: VisionView;
  /** Agent tokens (src/gateway/tokens.ts AgentTokenStore): lets admins issue a token for the agent page. */
  tokens?: { issue(clientId: string): Promise<string> };
  /** Admin accounts; defaults to `Server_Data/<ns>/admins.json`. */
  accounts?: AdminAccountStore;
  status?: StatusService;
  /** The users database; defaults to writing reference images into Users_DataBase (folderUsersService). */
  users?: UsersService;
  /** The action history; defaults to reading the audit stream (keys.audit) written by src/decisions/audit.ts. */
  actions?: ActionsService;
  metrics?: VigilMetrics;
  /** SSE registry poll period (tests shorten it). */
  livePollMs?: number;
}

/** What the plugin built, for the caller's shutdown and for tests. */
export interface AdminHandles {
  accounts: AdminAccountStore;
  sessions: SessionStore;
  apiKeys: ApiKeyStore;
  cache: TaggedCache;
  live: LiveEvents;
  limits: RateLimits;
}

/**
 * The admin API, the dashboard and the agent page as one fastify plugin for `buildHttpServer`'s
 * `plugins`. Static pages are public; every /api route (and /health/ready, and /metrics unless
 * METRICS_PUBLIC) needs an admin session or an API key — see docs/api.md.
 */
export function createAdminPlugin(deps: AdminDeps, onReady?: (handles: AdminHandles) => void): FastifyPluginAsync {
  return async function adminPlugin(app: FastifyInstance) {
    const { config, redis, keys } = deps;
    const folders = dataFolders(config);
    const accounts = deps.accounts ?? new AdminAccountStore(folders.serverData);
    const sessions = new SessionStore(redis, keys, config.SESSION_IDLE_SEC, config.SESSION_MAX_SEC);
    const apiKeys = new ApiKeyStore(redis, keys);
    const cache = new TaggedCache(redis, keys);
    const limits = new RateLimits(redis, keys, config);
    const metrics = deps.metrics ?? vigilMetrics;
    // Without a given history the API reads the decision step's audit stream directly.
    const actions = deps.actions ?? new AuditStreamActions(redis, keys);
    const users = deps.users ?? folderUsersService(folders.usersDatabase);
    const live = new LiveEvents({
      subscriber: deps.subscriber,
      registry: deps.registry,
      redis,
      keys,
      cache,
      log: deps.log,
      pollMs: deps.livePollMs,
      // The decision step announces every action on the events channel (src/decisions/audit.ts);
      // counting them here keeps vigil_actions_total in one place.
      onEvent: (event) => {
        const record = event.record as { actionName?: string; reasonName?: string } | undefined;
        if (event.type === 'action' && record?.actionName && record.reasonName) metrics.actions.inc({ action: record.actionName, reason: record.reasonName });
      },
    });
    live.start();
    app.addHook('preClose', async () => live.close());
    try {
      if (!(await accounts.list()).length) deps.log.warn({ file: accounts.path }, 'no dashboard administrator yet: create one with `vigil admin add NAME`');
    } catch (err) {
      deps.log.error({ err: (err as Error).message }, 'the administrators file is unreadable; nobody can log in until it is fixed');
    }
    onReady?.({ accounts, sessions, apiKeys, cache, live, limits });

    app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
      if (err instanceof HttpError) {
        if (err.statusCode === 429) metrics.rateLimited.inc({ route: req.routeOptions.url ?? 'unknown' });
        if (err.statusCode >= 500) req.log.warn({ code: err.code, url: req.url }, err.message);
        return reply.headers(err.headers).status(err.statusCode).send({ error: { code: err.code, message: err.message } });
      }
      const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
      if (status >= 500) {
        req.log.error({ err }, 'request failed');
        return reply.status(status).send({ error: { code: 'internal', message: 'Internal Server Error' } });
      }
      const code = ({ 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'too_large', 415: 'unsupported_media_type', 429: 'rate_limited' } as Record<number, string>)[status] ?? 'bad_request';
      return reply.status(status).send({ error: { code, message: err.message } });
    });

    await app.register(cookie);
    await app.register(webRoutes);
    await app.register(async (api) => {
      api.decorateRequest('principal', null);
      api.addHook('onRequest', async (req, reply) => {
        reply.header('cache-control', 'no-store');
      });
      api.addHook('preHandler', createAuthHook({ config, sessions, apiKeys, limits, accounts }));
      api.addHook('onResponse', async (req, reply) => {
        metrics.httpRequests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
      });
      await api.register(multipart, { limits: { fileSize: config.UPLOAD_MAX_BYTES, files: 10, fields: 10, parts: 20 } });
      await authRoutes(api, { config, accounts, sessions, apiKeys, limits });
      await clientRoutes(api, {
        redis,
        keys,
        registry: deps.registry,
        cache,
        live,
        status: deps.status,
        actions,
        tokens: deps.tokens,
        frameIntervalMs: config.AGENT_FRAME_INTERVAL_MS,
      });
      await userRoutes(api, { users, cache, live, limits, uploadMaxBytes: config.UPLOAD_MAX_BYTES });
      await actionRoutes(api, { actions, cache, actionsRoot: folders.actions });
      await opsRoutes(api, { config, redis, keys, cache, live, metrics, gateway: deps.gateway, vision: deps.vision });
    });
  };
}
