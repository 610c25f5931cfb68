import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Logger } from 'pino';
import { clientIdSchema } from '../domain/protocol.js';
import { writeFileAtomic } from '../data/folders.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import type { AnalysisResult } from '../vision/analyzer.js';
import type { UserDescriptors } from '../vision/tracker.js';

/**
 * Seed 000's users database: `<DATA_DIR>/Users_DataBase/<user>/*.jpg`. The scan is cached and redone
 * only when the folder (or a user's folder) changes; each reference image's descriptor is cached in
 * Redis under the image's SHA-256 (seed 002) so a restart or a second process does not recompute it.
 */

const IMAGE_EXT = /\.(jpe?g|png|webp)$/i;
/** A reference face smaller than this (pixels, shorter side, after scaling) is too small to trust. */
const MIN_FACE_PX = 48;

/** Analyses one reference image with identity on (no phones); supplied by the pool or the CLI. */
export type DescribeImage = (bytes: Buffer) => Promise<AnalysisResult>;

interface CachedDescriptor {
  /** Model version that produced it: a model upgrade makes old entries misses. */
  v: string;
  descriptor: number[] | null;
  /** Why the image is not usable as a reference, when descriptor is null. */
  reason?: string;
}

export interface UsersDatabaseOptions {
  dir: string;
  describe: DescribeImage;
  modelVersion: string;
  redis?: VigilRedis;
  keys?: Keys;
  ttlSeconds?: number;
  log?: Logger;
  /** Folder change checks at most this often (ms). */
  checkEveryMs?: number;
}

export type Usability = { ok: true; descriptor: number[] } | { ok: false; reason: string };

/** Exactly one usable face: the rule for enrolment and for reference images found in the folder. */
export function referenceUsability(result: AnalysisResult): Usability {
  if (!result.ok) return { ok: false, reason: `${result.code}: ${result.message}` };
  const a = result.analysis;
  if (a.faces.length === 0) return { ok: false, reason: a.quality.tooDark ? 'no face found (image too dark)' : a.quality.tooBright ? 'no face found (image too bright)' : 'no face found' };
  if (a.faces.length > 1) return { ok: false, reason: `${a.faces.length} faces found; a reference image must show exactly one person` };
  const [, , w, h] = a.faces[0]!.box;
  if (Math.min(w, h) < MIN_FACE_PX) return { ok: false, reason: `the face is too small (${Math.round(Math.min(w, h))} px; at least ${MIN_FACE_PX} px)` };
  if (a.quality.blurred) return { ok: false, reason: `the image is blurred (sharpness ${a.quality.sharpness})` };
  if (!a.descriptor) return { ok: false, reason: 'no descriptor could be computed for the face' };
  return { ok: true, descriptor: a.descriptor };
}

/** The valid user folders under `dir`, sorted (undefined when `dir` does not exist); `onInvalid` hears the others. */
export async function userFolders(dir: string, onInvalid?: (folder: string) => void): Promise<string[] | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return names
    .filter((n) => {
      const ok = clientIdSchema.safeParse(n).success;
      if (!ok) onInvalid?.(n);
      return ok;
    })
    .sort();
}

export class UndecodableImageError extends Error {
  constructor() {
    super('the image cannot be decoded');
  }
}

/**
 * Stores a reference image of a (validated) user as seed 000 expects it: upright JPEG named by the
 * content hash of what came in, written atomically. Throws UndecodableImageError when it is no image.
 */
export async function storeReferenceImage(dir: string, user: string, bytes: Buffer): Promise<string> {
  let jpeg: Buffer;
  try {
    jpeg = await sharp(bytes).rotate().jpeg({ quality: 92 }).toBuffer();
  } catch {
    throw new UndecodableImageError();
  }
  const file = join(dir, user, `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.jpg`);
  await writeFileAtomic(file, jpeg);
  return file;
}

export class UsersDatabase {
  private users: string[] = [];
  private descriptorsByUser = new Map<string, number[][]>();
  private signature = '';
  private checkedAt = 0;
  private refreshing?: Promise<void>;

  constructor(private readonly o: UsersDatabaseOptions) {}

  /** Names of every valid user folder (sorted); folders with invalid names are ignored with a warning. */
  async listUsers(): Promise<string[]> {
    await this.refresh();
    return this.users;
  }

  /** The last known descriptors at once; a refresh runs in the background when the folder may have changed. */
  snapshot(): UserDescriptors {
    if (Date.now() - this.checkedAt >= (this.o.checkEveryMs ?? 2_000)) void this.refresh().catch((err: Error) => this.o.log?.warn({ err: err.message }, 'users database refresh failed'));
    return this.descriptorsByUser;
  }

  /** Up-to-date descriptors (waits for a scan when the folder changed). */
  async descriptors(): Promise<UserDescriptors> {
    await this.refresh();
    return this.descriptorsByUser;
  }

  refresh(force = false): Promise<void> {
    if (!force && this.refreshing) return this.refreshing;
    const run = this.scan(force).finally(() => {
      if (this.refreshing === run) this.refreshing = undefined;
    });
    this.refreshing = run;
    return run;
  }

  private async folderSignature(): Promise<{ signature: string; users: string[] }> {
    const users = await userFolders(this.o.dir, (folder) => this.o.log?.warn({ folder }, 'users database: folder name is not a valid user name; ignored'));
    if (!users) return { signature: 'missing', users: [] };
    const rootMtime = (await stat(this.o.dir)).mtimeMs;
    const mtimes = await Promise.all(users.map(async (u) => (await stat(join(this.o.dir, u))).mtimeMs));
    return { signature: `${rootMtime}|${users.map((u, i) => `${u}:${mtimes[i]}`).join(',')}`, users };
  }

  private async scan(force: boolean): Promise<void> {
    this.checkedAt = Date.now();
    const { signature, users } = await this.folderSignature();
    if (!force && signature === this.signature) return;
    const next = new Map<string, number[][]>();
    for (const user of users) {
      const files = (await readdir(join(this.o.dir, user))).filter((f) => IMAGE_EXT.test(f) && !f.startsWith('.')).sort();
      const descriptors: number[][] = [];
      for (const file of files) {
        const bytes = await readFile(join(this.o.dir, user, file));
        const d = await this.descriptorOf(bytes);
        if (d.descriptor) descriptors.push(d.descriptor);
        else this.o.log?.warn({ user, file, reason: d.reason }, 'users database: reference image not usable');
      }
      next.set(user, descriptors);
    }
    this.users = users;
    this.descriptorsByUser = next;
    this.signature = signature;
  }

  /** The descriptor of a reference image, from the Redis cache (seed 002) or computed and cached. */
  async descriptorOf(bytes: Buffer): Promise<CachedDescriptor> {
    const sha = createHash('sha256').update(bytes).digest('hex');
    const { redis, keys } = this.o;
    if (redis && keys) {
      try {
        const hit = await redis.get(keys.embedding(sha));
        if (hit) {
          const parsed = JSON.parse(hit) as CachedDescriptor;
          if (parsed.v === this.o.modelVersion) return parsed;
        }
      } catch (err) {
        // Redis away: compute instead of failing (seed 002's graceful degradation).
        this.o.log?.warn({ err: (err as Error).message }, 'embedding cache read failed');
      }
    }
    const usable = referenceUsability(await this.o.describe(bytes));
    const value: CachedDescriptor = usable.ok ? { v: this.o.modelVersion, descriptor: usable.descriptor } : { v: this.o.modelVersion, descriptor: null, reason: usable.reason };
    if (redis && keys) {
      await redis.set(keys.embedding(sha), JSON.stringify(value), 'EX', this.o.ttlSeconds ?? 7 * 86_400).catch((err: Error) => this.o.log?.warn({ err: err.message }, 'embedding cache write failed'));
    }
    return value;
  }

  /**
   * Adds reference images to a user after checking each has exactly one usable face; the rest are
   * refused with the reason. Accepted images are stored as JPEG under their content hash (atomic write).
   */
  async enrolUser(user: string, images: { name: string; bytes: Buffer }[]): Promise<{ accepted: { name: string; file: string }[]; refused: { name: string; reason: string }[] }> {
    const parsed = clientIdSchema.safeParse(user);
    if (!parsed.success) throw new Error(`invalid user name ${JSON.stringify(user)}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const accepted: { name: string; file: string }[] = [];
    const refused: { name: string; reason: string }[] = [];
    for (const img of images) {
      const d = await this.descriptorOf(img.bytes);
      if (!d.descriptor) {
        refused.push({ name: img.name, reason: d.reason ?? 'not usable' });
        continue;
      }
      accepted.push({ name: img.name, file: await storeReferenceImage(this.o.dir, parsed.data, img.bytes) });
    }
    if (accepted.length) await this.refresh(true);
    return { accepted, refused };
  }
}
