import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Reason, actionLabel, isReason, type ReasonName } from '../../domain/action.js';
import { clientIdSchema } from '../../domain/protocol.js';
import type { TaggedCache } from '../cache.js';
import { HttpError, unavailable } from '../errors.js';
import type { ActionsService } from '../services.js';
import { parseQuery } from '../validate.js';
import { presentAction } from './clients.js';

const reasonParam = z
  .string()
  .transform((s, ctx) => {
    const n = /^\d+$/.test(s) ? Number(s) : Reason[s as ReasonName];
    if (!isReason(n)) {
      ctx.addIssue({ code: 'custom', message: `unknown reason ${s}` });
      return z.NEVER;
    }
    return n;
  });
const time = z.union([z.coerce.number().int().positive(), z.iso.datetime().transform((s) => Date.parse(s))]);
const listQuery = z
  .object({ user: clientIdSchema.optional(), reason: reasonParam.optional(), since: time.optional(), until: time.optional(), limit: z.coerce.number().int().min(1).max(1_000).default(100) })
  .strict();
const timelineQuery = z.object({ hours: z.coerce.number().int().min(1).max(24 * 31).default(24), bucketMin: z.coerce.number().int().min(1).max(1_440).default(60) }).strict();

const LABELS = new Set(Object.values(actionLabel));
const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.(jpg|json)$/;

/**
 * Resolves an evidence path (`<Label>/<user>/<file>`) inside the Actions folder, or throws 400/404.
 * Each part is checked by shape, then the resolved real path must still lie inside the folder
 * (no `..`, no absolute paths, no symlink leading out).
 */
export async function resolveEvidence(actionsRoot: string, label: string, user: string, file: string): Promise<string> {
  if (!LABELS.has(label) || !clientIdSchema.safeParse(user).success || !FILE_RE.test(file) || file.includes('..')) {
    throw new HttpError(400, 'bad_path', 'an evidence path is <Lock_screen|Sign_out|Warning|Error|No_action>/<user>/<name>.jpg|.json');
  }
  const root = resolve(actionsRoot);
  const candidate = resolve(join(root, label, user, file));
  if (!candidate.startsWith(root + sep)) throw new HttpError(400, 'bad_path', 'the path leaves the evidence folder');
  let real: string;
  try {
    real = await realpath(candidate);
    if (!real.startsWith((await realpath(root)) + sep) || !(await stat(real)).isFile()) throw new Error('outside');
  } catch {
    throw new HttpError(404, 'not_found', 'no such evidence file');
  }
  return real;
}

export interface ActionRouteDeps {
  actions?: ActionsService;
  cache: TaggedCache;
  actionsRoot: string;
}

export async function actionRoutes(app: FastifyInstance, deps: ActionRouteDeps): Promise<void> {
  const { cache } = deps;

  app.get('/api/actions', async (req) => {
    const q = parseQuery(listQuery, req.query);
    if (!deps.actions) throw unavailable('the action history');
    const list = await deps.actions.list({ clientId: q.user, reason: q.reason, since: q.since, until: q.until, limit: q.limit });
    return { actions: list.map(presentAction), count: list.length };
  });

  /** Actions per reason in time buckets, for the dashboard's timeline chart. */
  app.get('/api/stats/actions', async (req) => {
    const q = parseQuery(timelineQuery, req.query);
    const actions = deps.actions;
    if (!actions) throw unavailable('the action history');
    return cache.wrap(`stats:actions:${q.hours}:${q.bucketMin}`, ['actions'], 30, async () => {
      const bucketMs = q.bucketMin * 60_000;
      const until = Math.ceil(Date.now() / bucketMs) * bucketMs;
      const since = until - q.hours * 3_600_000;
      const list = await actions.list({ since, until, limit: 10_000 });
      const n = Math.ceil((until - since) / bucketMs);
      const series: Record<string, number[]> = {};
      for (const a of list) {
        const reason = presentAction(a).reason;
        const i = Math.floor((a.at - since) / bucketMs);
        if (i < 0 || i >= n) continue;
        (series[reason] ??= new Array<number>(n).fill(0))[i]!++;
      }
      const totals = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, v.reduce((s, x) => s + x, 0)]));
      return { since: new Date(since).toISOString(), until: new Date(until).toISOString(), bucketMinutes: q.bucketMin, buckets: n, series, totals };
    });
  });

  app.get('/api/evidence/:label/:user/:file', async (req, reply) => {
    const { label, user, file } = req.params as Record<string, string>;
    const path = await resolveEvidence(deps.actionsRoot, label!, user!, file!);
    return reply
      .header('content-type', path.endsWith('.jpg') ? 'image/jpeg' : 'application/json; charset=utf-8')
      .header('cache-control', 'private, max-age=3600')
      .header('x-content-type-options', 'nosniff')
      .send(createReadStream(path));
  });
}
