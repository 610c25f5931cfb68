import type { FastifyInstance } from 'fastify';
import { sniffImageFormat } from '../../domain/protocol.js';
import type { TaggedCache } from '../cache.js';
import { HttpError, unavailable } from '../errors.js';
import type { LiveEvents } from '../events.js';
import type { RateLimits } from '../rateLimits.js';
import type { UploadedImage, UsersService } from '../services.js';
import { parseName } from '../validate.js';

const MIME: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };
export const MAX_FILES_PER_UPLOAD = 10;

export interface UserRouteDeps {
  users?: UsersService;
  cache: TaggedCache;
  live: LiveEvents;
  limits: RateLimits;
  uploadMaxBytes: number;
}

export async function userRoutes(app: FastifyInstance, deps: UserRouteDeps): Promise<void> {
  const { cache, live, limits } = deps;

  app.get('/api/users', async () => {
    if (!deps.users) throw unavailable('the users database');
    const users = deps.users;
    return cache.wrap('users:list', ['users'], 10, async () => ({ users: await users.list() }));
  });

  /**
   * Enrolment by upload (multipart, field name free): JPEG, PNG or WebP only — checked by magic
   * bytes, not by the declared type — each at most UPLOAD_MAX_BYTES, at most 10 per request.
   * Seed 002: 5 enrolments per hour per API key or admin.
   */
  app.post('/api/users/:name/images', { config: { scope: 'enrol' } }, async (req, reply) => {
    const name = parseName((req.params as { name: string }).name, 'user name');
    if (!deps.users) throw unavailable('the users database');
    if (!req.isMultipart()) throw new HttpError(415, 'unsupported_media_type', 'send the images as multipart/form-data');
    const p = req.principal!;
    await limits.consume('enrol', p.kind === 'key' ? `key:${p.key.id}` : `admin:${p.name}`, reply, 'enrolment');
    const images: UploadedImage[] = [];
    for await (const part of req.files()) {
      let data: Buffer;
      try {
        data = await part.toBuffer();
      } catch (err) {
        if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
          throw new HttpError(413, 'too_large', `${part.filename || 'a file'} is larger than ${deps.uploadMaxBytes} bytes`);
        }
        throw err;
      }
      const format = sniffImageFormat(data);
      if (!format || !Object.values(MIME).includes(part.mimetype)) {
        throw new HttpError(415, 'unsupported_media_type', `${part.filename || 'a file'}: only JPEG, PNG or WebP images are accepted`);
      }
      images.push({ filename: part.filename, mime: MIME[format]!, data });
    }
    if (images.length === 0) throw new HttpError(400, 'bad_request', 'no image in the upload');
    const result = await deps.users.enrol(name, images);
    await live.invalidate('users');
    live.broadcast('users', { name, change: 'enrolled' });
    req.log.info({ admin: p.name, user: name, images: images.length }, 'user enrolled');
    return reply.status(201).send({ name, received: images.length, ...result });
  });

  app.delete('/api/users/:name', { config: { scope: 'enrol' } }, async (req, reply) => {
    const name = parseName((req.params as { name: string }).name, 'user name');
    if (!deps.users) throw unavailable('the users database');
    if (!(await deps.users.remove(name))) throw new HttpError(404, 'not_found', `no user ${name}`);
    await live.invalidate('users', 'states', 'clients');
    live.broadcast('users', { name, change: 'deleted' });
    return reply.status(204).send();
  });
}
