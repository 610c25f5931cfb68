import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify';
import { ClientRegistry } from '../../src/clients/registry.js';
import type { Config } from '../../src/config/index.js';
import { dataFolders } from '../../src/data/folders.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { GatewayHooks } from '../../src/gateway/hooks.js';
import { AgentTokenStore } from '../../src/gateway/tokens.js';
import { createAdminPlugin, type AdminDeps, type AdminHandles } from '../../src/http/admin.js';
import { buildHttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import type { RedisServerProcess } from '../../src/redis/embedded.js';
import { connectTest, testConfig } from '../helpers/redis.js';

export const ADMIN = 'root';
export const PASSWORD = 'correct horse battery';

export interface AdminApp {
  app: FastifyInstance;
  url: string;
  config: Config;
  conns: Awaited<ReturnType<typeof connectTest>>;
  handles: AdminHandles;
  gateway: Gateway;
  registry: ClientRegistry;
  tokens: AgentTokenStore;
  routes: RouteOptions[];
  dataDir: string;
}

type Services = Partial<Pick<AdminDeps, 'status' | 'users' | 'actions' | 'vision'>> & { hooks?: GatewayHooks };

/**
 * The admin plugin on a real fastify (buildHttpServer + Gateway) against the test's redis-server,
 * listening on a free port, with one admin account. Routes are recorded as they are added.
 */
export async function startAdminApp(
  server: RedisServerProcess,
  overrides: Partial<Record<keyof Config, unknown>> = {},
  services: Services | ((ctx: { config: Config; conns: AdminApp['conns'] }) => Promise<Services>) = {},
): Promise<AdminApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-http-'));
  const config = testConfig({ REDIS_URL: server.url, PORT: 0, DATA_DIR: dataDir, ...overrides });
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const conns = await connectTest(server, config);
  const { hooks, ...given } = typeof services === 'function' ? await services({ config, conns }) : services;
  const registry = new ClientRegistry(conns.redis, conns.keys);
  const tokens = new AgentTokenStore(dataFolders(config).serverData);
  const gateway = new Gateway({ config, log, keys: conns.keys, redis: conns.redis, subscriber: conns.subscriber, registry, tokens, hooks });
  const routes: RouteOptions[] = [];
  // Marked skip-override so the hook sees the routes of every later plugin (fastify-plugin's trick).
  const recorder: FastifyPluginAsync = async (app) => {
    app.addHook('onRoute', (r) => void routes.push(r));
  };
  (recorder as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  let handles: AdminHandles | undefined;
  const admin = createAdminPlugin(
    { config, log, redis: conns.redis, subscriber: conns.subscriber, keys: conns.keys, registry, gateway, tokens, livePollMs: 200, ...given },
    (h) => (handles = h),
  );
  const app = await buildHttpServer({ config, log, redis: conns.redis, gateway, plugins: [recorder, admin] });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await handles!.accounts.add(ADMIN, PASSWORD);
  after(async () => {
    await gateway.close();
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { app, url, config, conns, handles: handles!, gateway, registry, tokens, routes, dataDir };
}

/** A tiny cookie-keeping HTTP client over fetch, like a browser on one origin. */
export class Browser {
  cookies = new Map<string, string>();
  csrf: string | undefined;
  constructor(readonly base: string) {}

  async request(method: string, path: string, opts: { json?: unknown; body?: BodyInit; headers?: Record<string, string>; csrf?: boolean } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (opts.json !== undefined) headers['content-type'] = 'application/json';
    if (opts.csrf !== false && this.csrf && method !== 'GET') headers['x-csrf-token'] = this.csrf;
    const res = await fetch(this.base + path, { method, headers, body: opts.json !== undefined ? JSON.stringify(opts.json) : opts.body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  async login(username = ADMIN, password = PASSWORD): Promise<Response> {
    const res = await this.request('POST', '/api/auth/login', { json: { username, password } });
    if (res.ok) this.csrf = ((await res.clone().json()) as { csrfToken: string }).csrfToken;
    return res;
  }
}
