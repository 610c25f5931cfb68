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
  removeIfSilent(clients: string, client: string, image: string, id: string, cutoffMs: number): Promise<number>;
  ackAction(actions: string, actionId: string): Promise<number>;
  storeFrame(clients: string, client: string, image: string, ready: string, id: string, data: Buffer, format: string, nowMs: number, nowIso: string): Promise<number>;
  touchClient(clients: string, client: string, id: string, nowMs: number, nowIso: string): Promise<number>;
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
