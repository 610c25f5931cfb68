import type { z } from 'zod';
import { clientIdSchema } from '../domain/protocol.js';
import { HttpError } from './errors.js';

function explain(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw new HttpError(400, 'bad_request', explain(r.error));
  return r.data;
}

export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  const r = schema.safeParse(query ?? {});
  if (!r.success) throw new HttpError(400, 'bad_query', explain(r.error));
  return r.data;
}

/** A client or user name from the URL: checked before it can reach a Redis key or a file path. */
export function parseName(value: unknown, what = 'client id'): string {
  const r = clientIdSchema.safeParse(value);
  if (!r.success) throw new HttpError(400, 'invalid_name', `${what}: ${explain(r.error)}`);
  return r.data;
}
