import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Config } from '../../config/index.js';
import type { AdminAccountStore } from '../auth/accounts.js';
import { scopeSchema, type ApiKeyStore } from '../auth/apiKeys.js';
import { SESSION_COOKIE, cookieOptions } from '../auth/guard.js';
import type { SessionStore } from '../auth/sessions.js';
import { HttpError, storageDown } from '../errors.js';
import type { RateLimits } from '../rateLimits.js';
import { parseBody } from '../validate.js';

const loginSchema = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1_024) }).strict();
const newKeySchema = z.object({ name: z.string().min(1).max(100), scopes: z.array(scopeSchema).min(1) }).strict();

export interface AuthRouteDeps {
  config: Config;
  accounts: AdminAccountStore;
  sessions: SessionStore;
  apiKeys: ApiKeyStore;
  limits: RateLimits;
}

export async function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): Promise<void> {
  const { config, accounts, sessions, apiKeys, limits } = deps;

  app.post('/api/auth/login', { config: { public: true } }, async (req, reply) => {
    const { username, password } = parseBody(loginSchema, req.body);
    await limits.consume('loginIp', req.ip, reply, 'logging in from this address');
    await limits.consume('loginAccount', username.toLowerCase(), reply, 'logging in to this account');
    if (!(await accounts.verify(username, password))) throw new HttpError(401, 'invalid_credentials', 'wrong user name or password');
    await limits.reset('loginAccount', username.toLowerCase());
    // A session id the browser brought along is never promoted: it is dropped and a new one issued.
    const previous = req.cookies[SESSION_COOKIE];
    let created;
    try {
      if (previous) await sessions.destroy(previous);
      created = await sessions.create(username);
    } catch {
      throw storageDown('logging in');
    }
    void reply.setCookie(SESSION_COOKIE, created.sid, cookieOptions(config, req, config.SESSION_MAX_SEC));
    req.log.info({ admin: username }, 'admin logged in');
    return { admin: username, csrfToken: created.session.csrf, idleTimeoutSec: config.SESSION_IDLE_SEC, expiresAt: new Date(created.session.createdAt + config.SESSION_MAX_SEC * 1000).toISOString() };
  });

  app.post('/api/auth/logout', { config: { scope: 'read' } }, async (req, reply) => {
    const sid = req.cookies[SESSION_COOKIE];
    if (sid) await sessions.destroy(sid);
    void reply.clearCookie(SESSION_COOKIE, cookieOptions(config, req));
    return reply.status(204).send();
  });

  app.get('/api/auth/me', async (req) => {
    const p = req.principal!;
    return {
      name: p.name,
      kind: p.kind,
      scopes: p.scopes,
      ...(p.kind === 'session' ? { csrfToken: p.session.csrf, expiresAt: new Date(p.session.createdAt + config.SESSION_MAX_SEC * 1000).toISOString() } : {}),
    };
  });

  app.get('/api/keys', { config: { scope: 'admin' } }, async () => ({ keys: await apiKeys.list() }));

  app.post('/api/keys', { config: { scope: 'admin' } }, async (req, reply) => {
    const body = parseBody(newKeySchema, req.body);
    const { key, info } = await apiKeys.create(req.principal!.name, body.name, body.scopes);
    return reply.status(201).send({ key, ...info, note: 'the key is shown only now; store it safely' });
  });

  app.delete('/api/keys/:id', { config: { scope: 'admin' } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!/^[0-9a-f]{64}$/.test(id)) throw new HttpError(400, 'bad_request', 'a key id is the 64-hex SHA-256 shown by GET /api/keys');
    if (!(await apiKeys.revoke(id))) throw new HttpError(404, 'not_found', 'no such API key');
    return reply.status(204).send();
  });
}
