import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config/index.js';
import { HttpError, storageDown } from '../errors.js';
import type { RateLimits } from '../rateLimits.js';
import { scopes, type ApiKeyInfo, type ApiKeyStore, type Scope } from './apiKeys.js';
import type { Session, SessionStore } from './sessions.js';

export const SESSION_COOKIE = 'vigil_sid';
export const CSRF_HEADER = 'x-csrf-token';
/** Sent by the dashboard on its automatic refreshes: they do not count as activity for the idle timeout. */
export const BACKGROUND_HEADER = 'x-vigil-background';

/** Who made a request: an admin through a session cookie, or a script through an API key. */
export type Principal =
  | { kind: 'session'; name: string; scopes: readonly Scope[]; session: Session }
  | { kind: 'key'; name: string; scopes: readonly Scope[]; key: ApiKeyInfo };

/** Per-route settings (fastify `config`): public routes skip authentication; `scope` overrides the default. */
export interface RouteAuthConfig {
  public?: boolean;
  scope?: Scope;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    public?: boolean;
    scope?: 'read' | 'control' | 'enrol' | 'admin';
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function presentedApiKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const header = req.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function cookieOptions(config: Config, req: FastifyRequest, maxAgeSec?: number) {
  const secure = config.COOKIE_SECURE === 'always' || (config.COOKIE_SECURE === 'auto' && req.protocol === 'https');
  return { path: '/', httpOnly: true, sameSite: 'strict' as const, secure, ...(maxAgeSec !== undefined ? { maxAge: maxAgeSec } : {}) };
}

/**
 * The authentication hook of the admin API: every route needs an API key (`Authorization: Bearer`
 * or `X-API-Key`) or an admin session cookie unless its config says `public`. A cookie-authenticated
 * change (not GET/HEAD) must echo the session's CSRF token in `X-CSRF-Token`. Each principal then
 * spends one point of the general API limit.
 */
export function createAuthHook(deps: { config: Config; sessions: SessionStore; apiKeys: ApiKeyStore; limits: RateLimits; accounts: { exists(name: string): Promise<boolean> } }) {
  const { config, sessions, apiKeys, limits, accounts } = deps;
  return async function authenticate(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const routeConfig = req.routeOptions.config as RouteAuthConfig;
    if (routeConfig.public) {
      await limits.consume('api', `ip:${req.ip}`, reply, 'the API');
      return;
    }
    const required: Scope = routeConfig.scope ?? (SAFE_METHODS.has(req.method) ? 'read' : 'admin');
    const presented = presentedApiKey(req);
    let principal: Principal;
    if (presented !== undefined) {
      let info: ApiKeyInfo | undefined;
      try {
        info = await apiKeys.verify(presented);
      } catch {
        throw storageDown('authentication');
      }
      if (!info) throw new HttpError(401, 'unauthorized', 'unknown or revoked API key');
      principal = { kind: 'key', name: info.owner, scopes: info.scopes, key: info };
    } else {
      const sid = req.cookies[SESSION_COOKIE];
      if (!sid) throw new HttpError(401, 'unauthorized', 'log in or send an API key');
      let session: Session | undefined;
      try {
        // Image loads (live thumbnails) are background traffic too; browsers mark them Sec-Fetch-Dest: image.
        const background = req.headers[BACKGROUND_HEADER] === '1' || req.headers['sec-fetch-dest'] === 'image';
        session = await sessions.get(sid, Date.now(), !background);
      } catch {
        throw storageDown('authentication');
      }
      // A removed administrator's sessions end at once.
      if (session && !(await accounts.exists(session.admin))) {
        await sessions.destroy(sid).catch(() => undefined);
        session = undefined;
      }
      if (!session) {
        void reply.clearCookie(SESSION_COOKIE, cookieOptions(config, req));
        throw new HttpError(401, 'session_expired', 'the session has expired; log in again');
      }
      if (!SAFE_METHODS.has(req.method)) {
        const token = req.headers[CSRF_HEADER];
        if (typeof token !== 'string' || !sameToken(token, session.csrf)) {
          throw new HttpError(403, 'csrf', `a change made with a session cookie needs the session's CSRF token in ${CSRF_HEADER}`);
        }
      }
      principal = { kind: 'session', name: session.admin, scopes, session };
    }
    if (!principal.scopes.includes(required)) throw new HttpError(403, 'forbidden', `this needs the "${required}" scope`);
    req.principal = principal;
    const limitKey = principal.kind === 'key' ? `key:${principal.key.id}` : `admin:${principal.name}`;
    await limits.consume('api', limitKey, reply, 'the API');
  };
}
