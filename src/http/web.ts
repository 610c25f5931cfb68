import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { projectRoot } from '../paths.js';

export const webRoot = join(projectRoot, 'src', 'web');

/**
 * The dashboard (/) and the agent page (/agent): static files, public (they hold no data; every
 * datum comes from the authenticated API). Each file gets its own route (no wildcard), so an
 * unknown path still answers the JSON 404.
 */
export async function webRoutes(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), public: true } as typeof route.config;
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header(
      'content-security-policy',
      "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    return payload;
  });
  await app.register(fastifyStatic, { root: webRoot, prefix: '/', wildcard: false, index: ['index.html'], cacheControl: true, maxAge: 0 });
  app.get('/agent', (_req, reply) => reply.sendFile('agent.html'));
  app.get('/login', (_req, reply) => reply.sendFile('index.html'));
}
