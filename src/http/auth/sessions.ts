import { createHash, randomBytes } from 'node:crypto';
import type { Keys } from '../../redis/keys.js';
import type { VigilRedis } from '../../redis/scripts.js';

export interface Session {
  /** The id as stored (SHA-256 of the cookie value); the cookie value itself is never stored. */
  key: string;
  admin: string;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
}

const digest = (sid: string): string => createHash('sha256').update(sid).digest('hex');

/**
 * Admin sessions in Redis (seed 003's `session:` keys). Each session is a hash under the SHA-256 of
 * its cookie value, so a copy of Redis holds no usable session ids. The key's TTL is the idle
 * timeout, refreshed on use but never past the absolute lifetime.
 */
export class SessionStore {
  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
    private readonly idleSec: number,
    private readonly maxSec: number,
  ) {}

  /** Creates a fresh session (a new id at every login: no fixation); returns the cookie value. */
  async create(admin: string, now = Date.now()): Promise<{ sid: string; session: Session }> {
    const sid = randomBytes(32).toString('base64url');
    const session: Session = { key: digest(sid), admin, csrf: randomBytes(24).toString('base64url'), createdAt: now, lastSeenAt: now };
    await this.redis
      .multi()
      .hset(this.keys.session(session.key), { admin, csrf: session.csrf, createdAt: now, lastSeenAt: now })
      .expire(this.keys.session(session.key), Math.min(this.idleSec, this.maxSec))
      .sadd(this.keys.adminSessions(admin), session.key)
      .expire(this.keys.adminSessions(admin), this.maxSec)
      .exec();
    return { sid, session };
  }

  /**
   * The live session for a cookie value, undefined when unknown or expired. `touch` (the default)
   * restarts its idle timer; a dashboard's background refreshes pass false, so an unattended
   * dashboard still times out.
   */
  async get(sid: string, now = Date.now(), touch = true): Promise<Session | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(sid)) return undefined;
    const key = digest(sid);
    const h = await this.redis.hgetall(this.keys.session(key));
    if (!h.admin || !h.csrf) return undefined;
    const createdAt = Number(h.createdAt);
    const lastSeenAt = Number(h.lastSeenAt);
    if (now - createdAt >= this.maxSec * 1000 || now - lastSeenAt >= this.idleSec * 1000) {
      await this.redis.del(this.keys.session(key));
      return undefined;
    }
    if (!touch) return { key, admin: h.admin, csrf: h.csrf, createdAt, lastSeenAt };
    const ttl = Math.max(1, Math.min(this.idleSec, Math.floor((createdAt + this.maxSec * 1000 - now) / 1000)));
    await this.redis.multi().hset(this.keys.session(key), 'lastSeenAt', now).expire(this.keys.session(key), ttl).exec();
    return { key, admin: h.admin, csrf: h.csrf, createdAt, lastSeenAt: now };
  }

  async destroy(sid: string): Promise<void> {
    const key = digest(sid);
    const admin = await this.redis.hget(this.keys.session(key), 'admin');
    const m = this.redis.multi().del(this.keys.session(key));
    if (admin) m.srem(this.keys.adminSessions(admin), key);
    await m.exec();
  }

  /** Ends every session of an admin (password change, account removed). */
  async destroyAll(admin: string): Promise<number> {
    const members = await this.redis.smembers(this.keys.adminSessions(admin));
    await this.redis.del(...members.map((k) => this.keys.session(k)), this.keys.adminSessions(admin));
    return members.length;
  }
}
