import { join, relative } from 'node:path';
import sharp from 'sharp';
import { actionLabel, reasonLabel } from '../domain/action.js';
import { clientIdSchema, sniffImageFormat } from '../domain/protocol.js';
import { writeFileAtomic, writeFileAtomicExclusive, type DataFolders } from '../data/folders.js';
import type { ActionRecord } from './actionRecord.js';

/**
 * Evidence of one action (seed 000): the analysed frame as JPEG at
 * `Actions/<Lock_screen|Sign_out|Warning|Error>/<user>/<dd_mm_yyyy-hh_mm>_<Action>_<Reason>.jpg` and a
 * JSON sidecar (`.json`, same name) holding the action record. Times are UTC. A second action of the
 * same kind in the same minute gets `_2`, `_3`, ... : the sidecar claims the name exclusively, so
 * two writers (threads or machines on a shared folder) never overwrite each other.
 */

const MAX_SUFFIX = 1_000;

const pad = (n: number) => String(n).padStart(2, '0');

/** `dd_mm_yyyy-hh_mm` in UTC, as in seed 000's file names. */
export function evidenceStamp(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}_${pad(d.getUTCMonth() + 1)}_${d.getUTCFullYear()}-${pad(d.getUTCHours())}_${pad(d.getUTCMinutes())}`;
}

/** The file name without extension for the n-th action (1-based) of this kind in that minute. */
export function evidenceBaseName(record: Pick<ActionRecord, 'action' | 'reason' | 'frameTs' | 'decidedAt'>, n = 1): string {
  const base = `${evidenceStamp(record.frameTs ?? record.decidedAt)}_${actionLabel[record.action]}_${reasonLabel(record.reason)}`;
  return n === 1 ? base : `${base}_${n}`;
}

/** Parses the UTC minute back out of an evidence file name (retention). */
export function parseEvidenceStamp(name: string): number | undefined {
  const m = /^(\d{2})_(\d{2})_(\d{4})-(\d{2})_(\d{2})_/.exec(name);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[3]), Number(m[2]) - 1, Number(m[1]), Number(m[4]), Number(m[5]));
  return Number.isNaN(t) ? undefined : t;
}

/** The frame as JPEG bytes: JPEG passes through untouched (no quality loss, no time), PNG/WebP are converted. */
export async function toJpeg(frame: Buffer): Promise<Buffer> {
  const format = sniffImageFormat(frame);
  if (format === 'jpeg') return frame;
  if (!format) throw new Error('the frame is not a JPEG, PNG or WebP image');
  return sharp(frame).jpeg({ quality: 85 }).toBuffer();
}

export class EvidenceWriter {
  constructor(private readonly folders: DataFolders) {}

  /**
   * Writes the sidecar (claiming the name) and then the image. Fills `record.evidence` with paths
   * relative to DATA_DIR, or `record.evidenceError` when the frame could not be converted (the
   * sidecar is still written, without an image).
   */
  async write(record: ActionRecord, frame: Buffer | undefined): Promise<ActionRecord> {
    const user = clientIdSchema.safeParse(record.user);
    if (!user.success) throw new Error(`evidence: refusing user name ${JSON.stringify(record.user)} as a folder: ${user.error.issues[0]?.message}`);
    const dir = join(this.folders.actions, actionLabel[record.action], user.data);

    let jpeg: Buffer | undefined;
    let evidenceError: string | undefined;
    if (frame) {
      try {
        jpeg = await toJpeg(frame);
      } catch (err) {
        evidenceError = `frame not saved: ${(err as Error).message}`;
      }
    }

    for (let n = 1; n <= MAX_SUFFIX; n++) {
      const base = evidenceBaseName(record, n);
      const sidecarPath = join(dir, `${base}.json`);
      const imagePath = join(dir, `${base}.jpg`);
      const evidence = { sidecar: relative(this.folders.root, sidecarPath), ...(jpeg ? { image: relative(this.folders.root, imagePath) } : {}) };
      const withEvidence: ActionRecord = { ...record, evidence, ...(evidenceError ? { evidenceError } : {}) };
      if (await writeFileAtomicExclusive(sidecarPath, `${JSON.stringify(withEvidence, null, 2)}\n`)) {
        if (jpeg) await writeFileAtomic(imagePath, jpeg);
        return withEvidence;
      }
    }
    throw new Error(`evidence: more than ${MAX_SUFFIX} actions named ${evidenceBaseName(record)} in one minute`);
  }
}
