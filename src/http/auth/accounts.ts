import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../data/folders.js';
import { clientIdSchema } from '../../domain/protocol.js';

/** Admin names follow the same rule as client ids (they appear in logs and audit entries). */
export const adminNameSchema = clientIdSchema;
export const passwordSchema = z.string().min(10, 'a password of at least 10 characters').max(1_024);

const scrypt = (password: string, salt: Buffer, keylen: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));

// OWASP's scrypt floor (N=2^17, r=8, p=1) costs 128 MiB per hash; 2^15 (32 MiB) keeps a login at a
// fraction of a second on small machines while staying far from cheap. Parameters are stored per hash,
// so raising them later only affects new passwords.
const PARAMS = { N: 2 ** 15, r: 8, p: 1, keylen: 64 } as const;
const maxmem = 128 * PARAMS.N * PARAMS.r * 2;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, PARAMS.keylen, { N: PARAMS.N, r: PARAMS.r, p: PARAMS.p, maxmem });
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  const key = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 128 * N * r * 2 });
  return timingSafeEqual(key, expected);
}

const fileSchema = z
  .object({
    admins: z.record(adminNameSchema, z.object({ hash: z.string().startsWith('scrypt$'), createdAt: z.string() }).strict()),
  })
  .strict();
type AccountsFile = z.infer<typeof fileSchema>;

/** A hash to compare against when the name is unknown, so a login takes as long either way. */
let decoyHash: Promise<string> | undefined;

/**
 * Admin accounts in `Server_Data/<ns>/admins.json` (scrypt hashes only), written atomically and
 * re-read when the file changes, so `vigil admin add` works on a running server.
 */
export class AdminAccountStore {
  readonly path: string;
  private data: AccountsFile = { admins: {} };
  private loadedMtime = -1;

  constructor(serverDataDir: string) {
    this.path = join(serverDataDir, 'admins.json');
  }

  private async refresh(): Promise<void> {
    let mtime: number;
    try {
      mtime = (await stat(this.path)).mtimeMs;
    } catch {
      this.data = { admins: {} };
      this.loadedMtime = -1;
      return;
    }
    if (mtime === this.loadedMtime) return;
    const parsed = fileSchema.safeParse(JSON.parse(await readFile(this.path, 'utf8')));
    if (!parsed.success) throw new Error(`${this.path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.data = parsed.data;
    this.loadedMtime = mtime;
  }

  private async save(): Promise<void> {
    const admins = Object.fromEntries(Object.entries(this.data.admins).sort(([a], [b]) => a.localeCompare(b)));
    await writeFileAtomic(this.path, `${JSON.stringify({ admins }, null, 2)}\n`);
    this.loadedMtime = -1;
  }

  async list(): Promise<{ name: string; createdAt: string }[]> {
    await this.refresh();
    return Object.entries(this.data.admins).map(([name, a]) => ({ name, createdAt: a.createdAt }));
  }

  async exists(name: string): Promise<boolean> {
    await this.refresh();
    return Object.hasOwn(this.data.admins, name);
  }

  /** Creates an admin, or sets a new password when `replace` is true; returns false when the name is taken. */
  async add(name: string, password: string, { replace = false } = {}): Promise<boolean> {
    adminNameSchema.parse(name);
    passwordSchema.parse(password);
    await this.refresh();
    if (Object.hasOwn(this.data.admins, name) && !replace) return false;
    this.data.admins[name] = { hash: await hashPassword(password), createdAt: new Date().toISOString() };
    await this.save();
    return true;
  }

  async remove(name: string): Promise<boolean> {
    await this.refresh();
    if (!Object.hasOwn(this.data.admins, name)) return false;
    delete this.data.admins[name];
    await this.save();
    return true;
  }

  /**
   * For the demo: when no administrator exists yet, creates `name` with a random password and
   * returns the password (to print once); undefined when there already is an administrator.
   */
  async ensureAdmin(name = 'admin'): Promise<string | undefined> {
    if ((await this.list()).length) return undefined;
    const password = randomBytes(12).toString('base64url');
    await this.add(name, password);
    return password;
  }

  /** True when the name exists and the password matches; unknown names cost the same time. */
  async verify(name: string, password: string): Promise<boolean> {
    await this.refresh();
    const entry = Object.hasOwn(this.data.admins, name) ? this.data.admins[name] : undefined;
    if (!entry) {
      decoyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await decoyHash);
      return false;
    }
    return verifyPassword(password, entry.hash);
  }
}
