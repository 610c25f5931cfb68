import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { z } from 'zod';
import { ClientsData } from '../../clients/clientsData.js';
import type { ClientRegistry } from '../../clients/registry.js';
import { actionName, reasonName, isAction, isReason } from '../../domain/action.js';
import type { Keys } from '../../redis/keys.js';
import type { VigilRedis } from '../../redis/scripts.js';
import type { TaggedCache } from '../cache.js';
import { HttpError, unavailable } from '../errors.js';
import type { LiveEvents } from '../events.js';
import type { ActionRecord, ActionsService, StateChange, StatusService } from '../services.js';
import { parseName, parseQuery } from '../validate.js';

export interface ClientRouteDeps {
  redis: VigilRedis;
  keys: Keys;
  registry: ClientRegistry;
  cache: TaggedCache;
  live: LiveEvents;
  status?: StatusService;
  actions?: ActionsService;
  tokens?: { issue(clientId: string): Promise<string> };
  connectedHere?: () => string[];
  frameIntervalMs: number;
}

/** An action as the API shows it: numbers and names side by side. */
export function presentAction(a: ActionRecord) {
  return {
    id: a.id,
    clientId: a.clientId,
    action: isAction(a.action) ? actionName(a.action) : String(a.action),
    reason: isReason(a.reason) ? reasonName(a.reason) : String(a.reason),
    message: a.message ?? '',
    at: new Date(a.at).toISOString(),
    evidence: a.evidence ?? null,
  };
}

// `seq` only makes each frame's URL distinct for the browser.
const frameQuery = z.object({ w: z.coerce.number().int().min(16).max(1920).default(320), seq: z.coerce.number().int().nonnegative().optional() }).strict();

/** Recently made thumbnails: every open dashboard asks for the same frames, so each is resized once. */
class ThumbnailCache {
  private readonly map = new Map<string, Buffer>();
  constructor(private readonly max = 256) {}
  get(key: string): Buffer | undefined {
    return this.map.get(key);
  }
  set(key: string, value: Buffer): void {
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

export async function clientRoutes(app: FastifyInstance, deps: ClientRouteDeps): Promise<void> {
  const { registry, cache, keys, redis } = deps;
  const thumbs = new ThumbnailCache();

  async function states(): Promise<Record<string, string>> {
    if (!deps.status) return {};
    try {
      return Object.fromEntries((await deps.status.list()).clients.map((c) => [c.id, c.state]));
    } catch {
      return {};
    }
  }

  async function lastActions(): Promise<Map<string, ActionRecord>> {
    const last = new Map<string, ActionRecord>();
    if (!deps.actions) return last;
    for (const a of await deps.actions.list({ limit: 500 }).catch(() => [])) if (!last.has(a.clientId)) last.set(a.clientId, a);
    return last;
  }

  app.get('/api/clients', async () =>
    cache.wrap('clients:list', ['clients', 'states', 'actions'], 1, async () => {
      const [stats, stateMap, last] = await Promise.all([registry.getClientStats(), states(), lastActions()]);
      const ids = new Set([...stats.clientList, ...Object.keys(stateMap)]);
      const p = redis.pipeline();
      for (const id of ids) p.hmget(keys.image(id), 'frame_number', 'timestamp', 'size');
      const frames = (await p.exec()) ?? [];
      const clients = [...ids].sort().map((id, i) => {
        const meta = stats.clientsWithMetadata[id];
        const [seq, ts, size] = (frames[i]?.[1] ?? []) as (string | null)[];
        const action = last.get(id);
        return {
          id,
          connected: Boolean(meta?.status),
          state: stateMap[id] ?? (meta ? 'active' : 'unknown'),
          connectedAt: meta?.connected_at ?? null,
          lastSeen: meta?.last_seen ?? null,
          address: meta?.address || null,
          agent: meta?.agent || null,
          frame: seq ? { seq: Number(seq), at: ts ?? null, bytes: Number(size) } : null,
          lastAction: action ? presentAction(action) : null,
        };
      });
      return { clients, total: clients.length, connected: stats.totalClients, statesAvailable: Boolean(deps.status), generatedAt: new Date().toISOString() };
    }),
  );

  app.get('/api/clients/:id', async (req) => {
    const id = parseName((req.params as { id: string }).id);
    const [meta, stateMap, pending, recent, frame] = await Promise.all([
      registry.getClientMetadata(id),
      states(),
      new ClientsData(redis, keys, id).pendingActions(),
      deps.actions ? deps.actions.list({ clientId: id, limit: 50 }) : Promise.resolve(undefined),
      redis.hmget(keys.image(id), 'frame_number', 'timestamp', 'size'),
    ]);
    const connected = Boolean(meta.status);
    if (!connected && !stateMap[id] && !recent?.length && !pending.length) throw new HttpError(404, 'not_found', `no client ${id}`);
    return {
      id,
      connected,
      state: stateMap[id] ?? (connected ? 'active' : 'unknown'),
      connectedAt: meta.connected_at ?? null,
      lastSeen: meta.last_seen ?? null,
      address: meta.address || null,
      agent: meta.agent || null,
      frame: frame[0] ? { seq: Number(frame[0]), at: frame[1], bytes: Number(frame[2]) } : null,
      pendingActions: pending.map((a) => presentAction({ ...a, clientId: id })),
      recentActions: recent ? recent.map(presentAction) : null,
    };
  });

  app.get('/api/clients/:id/frame', async (req, reply) => {
    const id = parseName((req.params as { id: string }).id);
    const { w } = parseQuery(frameQuery, req.query);
    const frame = await registry.getClientImage(id);
    if (!frame) throw new HttpError(404, 'no_frame', `client ${id} has no recent frame`);
    const cacheKey = `${id}\n${frame.frameNumber}\n${frame.tsMs}\n${w}`;
    let thumb = thumbs.get(cacheKey);
    if (!thumb) {
      try {
        thumb = await sharp(frame.data).rotate().resize({ width: w, withoutEnlargement: true }).jpeg({ quality: 72 }).toBuffer();
      } catch {
        throw new HttpError(422, 'bad_frame', `the latest frame of ${id} cannot be decoded`);
      }
      thumbs.set(cacheKey, thumb);
    }
    return reply
      .header('content-type', 'image/jpeg')
      .header('cache-control', 'no-store')
      .header('x-frame-seq', frame.frameNumber)
      .header('x-frame-time', frame.timestamp)
      .send(thumb);
  });

  for (const change of ['pause', 'resume', 'block', 'unblock'] as const satisfies readonly StateChange[]) {
    app.post(`/api/clients/:id/${change}`, { config: { scope: 'control' } }, async (req) => {
      const id = parseName((req.params as { id: string }).id);
      if (!deps.status) throw unavailable('the status manager');
      const result = await deps.status[change](id);
      await deps.live.invalidate('states', 'clients');
      deps.live.broadcast('status', { clientId: id, change });
      req.log.info({ admin: req.principal?.name, client: id, change }, 'client state changed');
      return { clientId: id, change, result: result ?? null };
    });
  }

  app.post('/api/clients/:id/token', { config: { scope: 'admin' } }, async (req, reply) => {
    const id = parseName((req.params as { id: string }).id);
    if (!deps.tokens) throw unavailable('agent token issuing');
    const token = await deps.tokens.issue(id);
    req.log.info({ admin: req.principal?.name, client: id }, 'agent token issued');
    return reply.status(201).send({
      clientId: id,
      token,
      agentUrl: `/agent#client=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`,
      note: 'the token is shown only now; issuing again replaces it',
    });
  });

  // The agent page's settings; public (no secrets) because the agent authenticates on the socket.
  app.get('/agent/config.json', { config: { public: true } }, async () => ({ frameIntervalMs: deps.frameIntervalMs, socketPath: '/v1/agent' }));
}
