import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { projectRoot } from '../paths.js';

/**
 * Lua scripts live in src/redis/scripts as `<name>-<numberOfKeys>.lua`, each opening with a header
 * that names its KEYS and ARGV. They are defined once per connection and called by SHA.
 */
export const scriptsDir = join(projectRoot, 'src', 'redis', 'scripts');

export interface VigilScripts {
  removeIfSilent(clients: string, client: string, image: string, seen: string, id: string, cutoffMs: number): Promise<number>;
  ackAction(actions: string, actionId: string): Promise<number>;
  storeFrame(clients: string, client: string, image: string, ready: string, seen: string, id: string, data: Buffer, format: string, nowMs: number, nowIso: string): Promise<number>;
  touchClient(clients: string, client: string, seen: string, id: string, nowMs: number, nowIso: string): Promise<number>;
  /** Decisions: CAS the history and queue the action atomically; returns the new revision or 0 on conflict. */
  commitDecision(history: string, actions: string, expectedRev: string, state: string, ttlMs: number, actionJson: string, wakeChannel: string, id: string, trailField: string, recordJson: string): Promise<number>;
  /** Status manager: add/remove one id in JSON-array fields of Clients_status; args are field, 'add'|'remove' pairs. */
  statusChange(clientsStatus: string, id: string, ...fieldOps: string[]): Promise<number[]>;
  statusCas(clientsStatus: string, field: string, expected: string, value: string): Promise<number>;
  managerLockRenew(lock: string, owner: string, ttlMs: number): Promise<number>;
  managerLockRelease(lock: string, owner: string): Promise<number>;
  /** Vision: takes the longest-waiting ready client that is neither skipped nor leased; returns [id, readyScore] or null. */
  takeReady(ready: string, leases: string, nowMs: number, leaseMs: number, scan: number, skipJson: string): Promise<[string, string] | null>;
}

export type VigilRedis = Redis & VigilScripts;

export function defineScripts(client: Redis): VigilRedis {
  for (const file of readdirSync(scriptsDir)) {
    const match = /^(\w+)-(\d+)\.lua$/.exec(file);
    if (!match) continue;
    client.defineCommand(match[1]!, { numberOfKeys: Number(match[2]), lua: readFileSync(join(scriptsDir, file), 'utf8') });
  }
  return client as VigilRedis;
}
