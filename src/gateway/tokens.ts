import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../data/folders.js';
import { clientIdSchema } from '../domain/protocol.js';

const fileSchema = z.object({ tokens: z.record(clientIdSchema, z.string().regex(/^[0-9a-f]{64}$/)) }).strict();

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * Per-client agent tokens. Only the SHA-256 of each token is kept, in
 * `Server_Data/<ns>/agent_tokens.json` (a token is 256 random bits, so a plain hash is enough;
 * passwords get scrypt elsewhere). The file is re-read when it changes, so `vigil token issue`
 * takes effect in a running server without a restart.
 */
export class AgentTokenStore {
  private readonly path: string;
  private hashes: Record<string, string> = {};
  private loadedMtime = -1;

  constructor(serverDataDir: string) {
    this.path = join(serverDataDir, 'agent_tokens.json');
  }

  private refreshing: Promise<void> | undefined;

  /** Concurrent callers (a reconnect storm: hundreds of hellos at once) share one stat and one parse. */
  private refresh(): Promise<void> {
    return (this.refreshing ??= this.reload().finally(() => (this.refreshing = undefined)));
  }

  private async reload(): Promise<void> {
    let mtime: number;
    try {
      mtime = (await stat(this.path)).mtimeMs;
    } catch {
      this.hashes = {};
      this.loadedMtime = -1;
      return;
    }
    if (mtime === this.loadedMtime) return;
    const parsed = fileSchema.safeParse(JSON.parse(await readFile(this.path, 'utf8')));
    if (!parsed.success) throw new Error(`${this.path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.hashes = parsed.data.tokens;
    this.loadedMtime = mtime;
  }

  /** Creates (or replaces) the client's token and returns it; only its hash is stored. */
  async issue(clientId: string): Promise<string> {
    return (await this.issueMany([clientId]))[clientId]!;
  }

  /** Issues tokens for several clients with one write of the file. */
  async issueMany(clientIds: string[]): Promise<Record<string, string>> {
    for (const id of clientIds) clientIdSchema.parse(id);
    await this.refresh();
    const issued: Record<string, string> = {};
    const tokens = { ...this.hashes };
    for (const id of clientIds) {
      issued[id] = `vgl_${randomBytes(32).toString('base64url')}`;
      tokens[id] = sha256(issued[id]);
    }
    const sorted = Object.fromEntries(Object.entries(tokens).sort(([a], [b]) => a.localeCompare(b)));
    await writeFileAtomic(this.path, `${JSON.stringify({ tokens: sorted }, null, 2)}\n`);
    this.loadedMtime = -1;
    return issued;
  }

  async revoke(clientId: string): Promise<boolean> {
    await this.refresh();
    if (!(clientId in this.hashes)) return false;
    const { [clientId]: _gone, ...rest } = this.hashes;
    await writeFileAtomic(this.path, `${JSON.stringify({ tokens: rest }, null, 2)}\n`);
    this.loadedMtime = -1;
    return true;
  }

  async verify(clientId: string, token: string): Promise<boolean> {
    await this.refresh();
    const expected = this.hashes[clientId];
    if (!expected) return false;
    return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(sha256(token), 'hex'));
  }
}
