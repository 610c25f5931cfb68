import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import type { ActionRecord } from './actionRecord.js';

/**
 * The audit trail of actions: a capped Redis stream (recent history for the API and live views) and
 * daily JSONL files under `Data/Audit/` (the durable, complete copy), plus a pub/sub event.
 */

/** `YYYY-MM-DD.jsonl`, UTC. */
export function auditFileName(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 10)}.jsonl`;
}

export interface LiveActionEvent {
  type: 'action';
  record: ActionRecord;
}

export class AuditLog {
  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
    private readonly auditDir: string,
    private readonly maxLen: number,
  ) {}

  /** XADD with MAXLEN ~ so trimming costs nothing per entry; returns the stream entry id. */
  async toStream(record: ActionRecord): Promise<string> {
    const id = await this.redis.xadd(
      this.keys.audit,
      'MAXLEN',
      '~',
      this.maxLen,
      '*',
      'id',
      record.id,
      'client',
      record.clientId,
      'action',
      record.action,
      'reason',
      record.reason,
      'record',
      JSON.stringify(record),
    );
    return id ?? '';
  }

  /**
   * One line per record, appended with O_APPEND: a single write of a line is not interleaved with
   * another process's line, so several workers may share the day's file.
   */
  async toFile(record: ActionRecord): Promise<string> {
    await mkdir(this.auditDir, { recursive: true });
    const path = join(this.auditDir, auditFileName(record.decidedAt));
    await appendFile(path, `${JSON.stringify(record)}\n`, { flag: 'a' });
    return path;
  }

  async publish(record: ActionRecord): Promise<void> {
    const event: LiveActionEvent = { type: 'action', record };
    await this.redis.publish(this.keys.channels.events, JSON.stringify(event));
  }

  /** The newest records first, from the stream (for the admin API's action timeline). */
  async recent(count = 100, clientId?: string): Promise<ActionRecord[]> {
    const entries = await this.redis.xrevrange(this.keys.audit, '+', '-', 'COUNT', clientId ? count * 10 : count);
    const out: ActionRecord[] = [];
    for (const [, fields] of entries) {
      const i = fields.indexOf('record');
      if (i < 0 || i + 1 >= fields.length) continue;
      try {
        const record = JSON.parse(fields[i + 1]!) as ActionRecord;
        if (!clientId || record.clientId === clientId) out.push(record);
      } catch {
        // An entry from another version; skip it.
      }
      if (out.length >= count) break;
    }
    return out;
  }
}
