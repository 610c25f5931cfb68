import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Keys } from '../../redis/keys.js';
import type { VigilRedis } from '../../redis/scripts.js';

/**
 * What a principal may do. `read` covers every GET; `control` the client states; `enrol` users and
 * their images; `admin` API keys and agent tokens. Admin sessions hold every scope.
 */
export const scopes = ['read', 'control', 'enrol', 'admin'] as const;
export type Scope = (typeof scopes)[number];
export const scopeSchema = z.enum(scopes);

export interface ApiKeyInfo {
  /** SHA-256 of the key: its id in the API (the key itself is shown once, at creation). */
  id: string;
  name: string;
  owner: string;
  scopes: Scope[];
  createdAt: string;
  lastUsedAt?: string;
}

export const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');

const KEY_RE = /^vk_[A-Za-z0-9_-]{43}$/;

/** API keys for scripts (seed 003): only the SHA-256 of a key is stored, with its owner and scopes. */
export class ApiKeyStore {
  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
  ) {}

  async create(owner: string, name: string, keyScopes: Scope[]): Promise<{ key: string; info: ApiKeyInfo }> {
    const key = `vk_${randomBytes(32).toString('base64url')}`;
    const info: ApiKeyInfo = { id: sha256hex(key), name, owner, scopes: [...new Set(keyScopes)], createdAt: new Date().toISOString() };
    await this.redis
      .multi()
      .hset(this.keys.apiKey(info.id), { name, owner, scopes: info.scopes.join(','), createdAt: info.createdAt })
      .sadd(this.keys.apiKeys, info.id)
      .exec();
    return { key, info };
  }

  private async read(id: string): Promise<ApiKeyInfo | undefined> {
    const h = await this.redis.hgetall(this.keys.apiKey(id));
    if (!h.owner) return undefined;
    const keyScopes = (h.scopes ?? '').split(',').filter((s): s is Scope => (scopes as readonly string[]).includes(s));
    return { id, name: h.name ?? '', owner: h.owner, scopes: keyScopes, createdAt: h.createdAt ?? '', ...(h.lastUsedAt ? { lastUsedAt: h.lastUsedAt } : {}) };
  }

  /** The key's record when the presented key is valid; undefined otherwise. */
  async verify(key: string): Promise<ApiKeyInfo | undefined> {
    if (!KEY_RE.test(key)) return undefined;
    const info = await this.read(sha256hex(key));
    if (info) void this.redis.hset(this.keys.apiKey(info.id), 'lastUsedAt', new Date().toISOString()).catch(() => undefined);
    return info;
  }

  async list(): Promise<ApiKeyInfo[]> {
    const ids = await this.redis.smembers(this.keys.apiKeys);
    const infos = await Promise.all(ids.map((id) => this.read(id)));
    return infos.filter((i): i is ApiKeyInfo => i !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async revoke(id: string): Promise<boolean> {
    const [[, removed]] = (await this.redis.multi().del(this.keys.apiKey(id)).srem(this.keys.apiKeys, id).exec()) as [[unknown, number], unknown];
    return removed === 1;
  }
}
