import { z } from 'zod';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import { toActionMessage, type ActionRecord } from './actionRecord.js';
import { emptyHistory, type History } from './policy.js';

/**
 * A client's decision history in Redis (`history:{id}` hash: rev, state, and `trail:<action id>`
 * outbox entries). Reads return the revision; commits are compare-and-set on it (commitDecision
 * Lua), together with the action they queue and the record whose paper trail is still to be written.
 */

const conditionSchema = z.object({
  since: z.number(),
  lastSeen: z.number(),
  count: z.number().int().min(0),
  misses: z.number().int().min(0),
  step: z.number().int().min(-1),
  inForce: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.literal(4)]).optional(),
});
const historySchema = z.object({
  v: z.literal(1),
  lastFrame: z.object({ ts: z.number(), seq: z.number(), followUp: z.literal(true).optional() }).optional(),
  conditions: z.partialRecord(z.enum(['noFace', 'wrongUser', 'phone', 'spoof', 'severalFaces', 'poorImage', 'analysisError', 'cameraDetached', 'cableRemoved', 'networkLost']), conditionSchema),
});

const TRAIL = 'trail:';

export interface StoredHistory {
  rev: string;
  history: History;
  /** Actions committed whose evidence and audit entries were not (yet) confirmed written. */
  trails: ActionRecord[];
  /** Set when the stored state was unreadable (another version's format): the policy starts afresh. */
  discarded?: string;
}

export class HistoryRepository {
  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
    private readonly ttlMs: number,
  ) {}

  async load(clientId: string): Promise<StoredHistory> {
    const all = await this.redis.hgetall(this.keys.history(clientId));
    const trails: ActionRecord[] = [];
    for (const [field, value] of Object.entries(all)) {
      if (!field.startsWith(TRAIL)) continue;
      try {
        trails.push(JSON.parse(value) as ActionRecord);
      } catch {
        // Unreadable outbox entry: nothing can be finished from it.
      }
    }
    const rev = all.rev ?? '0';
    if (!all.rev || !all.state) return { rev, history: emptyHistory(), trails };
    try {
      return { rev, history: historySchema.parse(JSON.parse(all.state)) as History, trails };
    } catch (err) {
      return { rev, history: emptyHistory(), trails, discarded: (err as Error).message.slice(0, 200) };
    }
  }

  /**
   * Returns false when another worker committed first: re-read, re-run the policy, try again. With a
   * record, its action message is queued and the record kept in the outbox, all in the same step.
   */
  async commit(clientId: string, expectedRev: string, history: History, record?: ActionRecord): Promise<boolean> {
    const rev = await this.redis.commitDecision(
      this.keys.history(clientId),
      this.keys.actions(clientId),
      expectedRev,
      JSON.stringify(history),
      this.ttlMs,
      record ? JSON.stringify(toActionMessage(record)) : '',
      this.keys.channels.actions,
      clientId,
      record ? `${TRAIL}${record.id}` : '',
      record ? JSON.stringify(record) : '',
    );
    return rev > 0;
  }

  /**
   * Removes a record from the outbox once its trail is written. Also the claim of a worker that
   * finishes an abandoned trail: only the caller that gets true may write it.
   */
  async trailDone(clientId: string, recordId: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.history(clientId), `${TRAIL}${recordId}`)) === 1;
  }
}
