import { readdir, rm, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { clientIdSchema } from '../domain/protocol.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import { storeReferenceImage, UndecodableImageError, userFolders } from '../users/database.js';
import type { ActionFilter, ActionRecord, ActionsService, EnrolledUser, UsersService } from './services.js';

/** What the audit stream's `record` field holds (src/decisions/actionRecord.ts), as far as the API reads it. */
interface AuditRecord {
  id: string;
  clientId: string;
  action: number;
  reason: number;
  message?: string;
  decidedAt: number;
  evidence?: { image?: string; sidecar?: string };
}

/** `Actions/Warning/alice/x.jpg` (relative to DATA_DIR) -> `Warning/alice/x.jpg` (relative to Data/Actions). */
function underActions(p: string | undefined): string | undefined {
  if (!p) return undefined;
  const parts = p.split(/[\\/]/);
  return parts[0] === 'Actions' ? parts.slice(1).join('/') : parts.join('/');
}

/**
 * The action history read from the decision step's capped audit stream (`keys.audit`, one entry
 * per action with the whole record as JSON in `record`). Stream ids are millisecond timestamps, so
 * a time filter becomes the XREVRANGE bounds.
 */
export class AuditStreamActions implements ActionsService {
  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
  ) {}

  async list(filter: ActionFilter): Promise<ActionRecord[]> {
    const out: ActionRecord[] = [];
    let end = filter.until !== undefined ? String(filter.until) : '+';
    const start = filter.since !== undefined ? String(filter.since) : '-';
    const page = Math.min(1_000, Math.max(filter.limit * 4, 100));
    for (let pages = 0; pages < 50 && out.length < filter.limit; pages++) {
      const entries = await this.redis.xrevrange(this.keys.audit, end, start, 'COUNT', page);
      for (const [, fields] of entries) {
        const i = fields.indexOf('record');
        if (i < 0) continue;
        let r: AuditRecord;
        try {
          r = JSON.parse(fields[i + 1]!) as AuditRecord;
        } catch {
          continue;
        }
        if (filter.clientId && r.clientId !== filter.clientId) continue;
        if (filter.reason !== undefined && r.reason !== filter.reason) continue;
        out.push({
          id: r.id,
          clientId: r.clientId,
          action: r.action,
          reason: r.reason,
          message: r.message,
          at: r.decidedAt,
          evidence: r.evidence ? { image: underActions(r.evidence.image), sidecar: underActions(r.evidence.sidecar) } : undefined,
        });
        if (out.length >= filter.limit) break;
      }
      if (entries.length < page) break;
      end = `(${entries[entries.length - 1]![0]}`;
    }
    return out;
  }
}

/** The part of src/users/database.ts UsersDatabase the API uses. */
export interface UsersDatabaseLike {
  listUsers(): Promise<string[]>;
  enrolUser(user: string, images: { name: string; bytes: Buffer }[]): Promise<{ accepted: { name: string; file: string }[]; refused: { name: string; reason: string }[] }>;
  refresh(force?: boolean): Promise<void>;
}

/** Adapts the users database (a folder per user under Users_DataBase) to the API's UsersService. */
export function usersServiceFrom(db: UsersDatabaseLike, usersDir: string): UsersService {
  const root = resolve(usersDir);
  const folderOf = (name: string): string => {
    const valid = clientIdSchema.parse(name);
    const dir = resolve(join(root, valid));
    if (!dir.startsWith(root + sep)) throw new Error(`user folder outside ${root}`);
    return dir;
  };
  return {
    async list(): Promise<EnrolledUser[]> {
      const names = await db.listUsers();
      return Promise.all(
        names.map(async (name) => {
          try {
            const dir = folderOf(name);
            const files = (await readdir(dir)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f));
            return { name, images: files.length, updatedAt: (await stat(dir)).mtime.toISOString() };
          } catch {
            return { name, images: 0 };
          }
        }),
      );
    },
    async enrol(name, images) {
      const r = await db.enrolUser(name, images.map((i) => ({ name: i.filename, bytes: i.data })));
      return { stored: r.accepted.length, accepted: r.accepted.map((a) => a.name), refused: r.refused };
    },
    async remove(name) {
      const dir = folderOf(name);
      try {
        await stat(dir);
      } catch {
        return false;
      }
      await rm(dir, { recursive: true, force: true });
      await db.refresh(true);
      return true;
    },
  };
}

/**
 * Enrolment without the face models in this process: reference images are written into
 * `Users_DataBase/<user>/` (upright JPEG named by content hash, as src/users/database.ts does) and
 * the vision side picks them up when it sees the folder change (seed 000's drop-in enrolment).
 * Images are not checked for a usable face here; the users database logs unusable ones.
 */
export function folderUsersService(usersDir: string): UsersService {
  const db: UsersDatabaseLike = {
    listUsers: async () => (await userFolders(usersDir)) ?? [],
    async enrolUser(user, images) {
      const name = clientIdSchema.parse(user);
      const accepted: { name: string; file: string }[] = [];
      const refused: { name: string; reason: string }[] = [];
      for (const img of images) {
        try {
          accepted.push({ name: img.name, file: await storeReferenceImage(usersDir, name, img.bytes) });
        } catch (err) {
          if (!(err instanceof UndecodableImageError)) throw err;
          refused.push({ name: img.name, reason: err.message });
        }
      }
      return { accepted, refused };
    },
    async refresh() {},
  };
  return usersServiceFrom(db, usersDir);
}
