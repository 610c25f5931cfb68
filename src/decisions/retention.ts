import { readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataFolders } from '../data/folders.js';
import { parseEvidenceStamp } from './evidence.js';

/**
 * Deletes evidence (`Actions/<Action>/<user>/*.jpg|json`) and daily audit files (`Audit/YYYY-MM-DD.jsonl`)
 * older than the retention. Age comes from the date in the file name (copying or touching a file
 * does not make it younger); files without one fall back to their modification time.
 */

export interface RetentionResult {
  evidenceDeleted: number;
  auditDeleted: number;
}

const DAY_MS = 86_400_000;

async function list(dir: string): Promise<{ name: string; dir: boolean }[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).map((d) => ({ name: d.name, dir: d.isDirectory() }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function ageOf(path: string, fromName: number | undefined): Promise<number> {
  if (fromName !== undefined) return fromName;
  return (await stat(path)).mtimeMs;
}

async function removeIfExists(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export async function sweepRetention(folders: DataFolders, days: number, now: number): Promise<RetentionResult> {
  const result: RetentionResult = { evidenceDeleted: 0, auditDeleted: 0 };
  if (days <= 0) return result;
  const cutoff = now - days * DAY_MS;

  for (const actionDir of await list(folders.actions)) {
    if (!actionDir.dir) continue;
    const actionPath = join(folders.actions, actionDir.name);
    for (const userDir of await list(actionPath)) {
      if (!userDir.dir) continue;
      const userPath = join(actionPath, userDir.name);
      const files = await list(userPath);
      let kept = 0;
      for (const f of files) {
        // Temp files of writes in progress start with "." and are left alone.
        if (f.dir || f.name.startsWith('.') || !/\.(jpg|json)$/.test(f.name)) {
          kept++;
          continue;
        }
        const path = join(userPath, f.name);
        // The stamp is the start of the minute: the whole minute must be past the cutoff.
        const stamp = parseEvidenceStamp(f.name);
        const t = await ageOf(path, stamp === undefined ? undefined : stamp + 60_000);
        if (t < cutoff && (await removeIfExists(path))) result.evidenceDeleted++;
        else kept++;
      }
      if (kept === 0) await rmdir(userPath).catch(() => undefined);
    }
  }

  for (const f of await list(folders.audit)) {
    const m = /^(\d{4}-\d{2}-\d{2})\.jsonl$/.exec(f.name);
    if (f.dir || !m) continue;
    const path = join(folders.audit, f.name);
    // A day's file is complete at the end of that day.
    const endOfDay = Date.parse(`${m[1]}T00:00:00Z`) + DAY_MS;
    const t = await ageOf(path, Number.isNaN(endOfDay) ? undefined : endOfDay);
    if (t < cutoff && (await removeIfExists(path))) result.auditDeleted++;
  }
  return result;
}
