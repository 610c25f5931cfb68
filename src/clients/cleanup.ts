import type { Logger } from 'pino';
import type { ClientRegistry } from './registry.js';

/**
 * Seed 004's automatic cleanup: every `intervalMs`, clients silent for more than `timeoutMs` are
 * removed with their latest frame. A failed round (Redis away) is logged and the loop goes on.
 */
export function startCleanupLoop(registry: ClientRegistry, opts: { intervalMs: number; timeoutMs: number; log?: Logger; onRemoved?: (ids: string[]) => void }): { stop(): void } {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const removed = await registry.removeSilentClients(Date.now() - opts.timeoutMs);
      if (removed.length) {
        opts.log?.info({ removed, count: removed.length }, 'removed inactive clients');
        opts.onRemoved?.(removed);
      }
    } catch (err) {
      opts.log?.debug({ err: (err as Error).message }, 'cleanup round skipped');
    } finally {
      running = false;
    }
  }, opts.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
