import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { dataFolders } from '../data/folders.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import { ManagerLock } from './managerLock.js';
import { StatusEffects } from './statusEffects.js';
import { StatusFiles } from './statusFiles.js';
import { createStatusHooks, type StatusHooks } from './statusHooks.js';
import { statusFileName } from './statusPolicy.js';
import { createStatusService, type StatusService } from './statusService.js';
import { StatusStore } from './statusStore.js';
import { StatusSync, type SyncReport } from './statusSync.js';
import { scanAvailableUsers } from './statusUsers.js';

export type StatusConfig = Pick<Config, 'DATA_DIR' | 'NAMESPACE' | 'STATUS_CYCLE_MS' | 'STATUS_LOCK_TTL_MS' | 'BLOCKED_CLIENT_ACTION' | 'UNENROLLED_CLIENTS'>;

export interface StatusParts {
  store: StatusStore;
  files: StatusFiles;
  effects: StatusEffects;
  sync: StatusSync;
  lock: ManagerLock;
  availableUsers: () => Promise<string[]>;
}

/** The pieces of the status manager, without any loop (the CLI runs one cycle with them). */
export function createStatusParts(opts: { config: StatusConfig; redis: VigilRedis; keys: Keys; log?: Logger; availableUsers?: () => Promise<string[]> }): StatusParts {
  const folders = dataFolders(opts.config);
  const availableUsers = opts.availableUsers ?? (() => scanAvailableUsers(folders.usersDatabase));
  const store = new StatusStore(opts.redis, opts.keys);
  const files = new StatusFiles(folders.serverData);
  const effects = new StatusEffects(opts.redis, opts.keys, store, { blockedAction: opts.config.BLOCKED_CLIENT_ACTION, log: opts.log });
  const sync = new StatusSync({ store, files, effects, availableUsers, log: opts.log });
  const lock = new ManagerLock(opts.redis, opts.keys.lock('status-manager'), opts.config.STATUS_LOCK_TTL_MS);
  return { store, files, effects, sync, lock, availableUsers };
}

export interface StatusManager {
  service: StatusService;
  hooks: StatusHooks;
  /** Runs a cycle now (if this process holds the lock) and waits for it. */
  syncNow(): Promise<SyncReport | undefined>;
  isLeader(): boolean;
  stop(): Promise<void>;
}

/**
 * Seed 001's Server_Manager. Every process may start one: all of them serve API changes and gateway
 * hooks; the one holding the Redis lock runs the 0.5 s cycle (files <-> Clients_status) and is woken
 * at once when a state file changes on disk. The others try to take the lock every cycle.
 */
export async function startStatusManager(opts: {
  config: StatusConfig;
  log: Logger;
  redis: VigilRedis;
  keys: Keys;
  availableUsers?: () => Promise<string[]>;
  /**
   * Optional subscriber connection: the lock holder then hears changes made in other processes on
   * keys.channels.status and writes the files at once instead of at its next cycle.
   */
  subscriber?: VigilRedis;
  /** Gateway live-connection lease (tests shorten it). */
  gatewayLeaseMs?: number;
  /** Watch the state files (default); without, hand edits are picked up by the cycle alone. */
  watchFiles?: boolean;
  /**
   * Take part in the election and run the cycle (default true: the `manager` role). False: only the
   * service and the gateway hooks (a gateway-only process); another process must run the cycle.
   */
  manage?: boolean;
}): Promise<StatusManager> {
  const { config } = opts;
  const log = opts.log.child({ part: 'status' });
  const parts = createStatusParts({ ...opts, log });
  const { lock, sync, files } = parts;
  await mkdir(files.dir, { recursive: true });

  let stopped = false;
  let running: Promise<SyncReport | undefined> | undefined;
  let again = false;
  let lastError = '';

  async function cycle(): Promise<SyncReport | undefined> {
    try {
      const had = lock.held;
      const held = await lock.acquire();
      if (held && !had) log.info({ owner: lock.owner }, 'this process now runs the status manager');
      if (!held && had) log.warn('lost the status-manager lock to another process');
      const report = held ? await sync.syncOnce() : undefined;
      if (lastError) log.info('status cycle works again');
      lastError = '';
      return report;
    } catch (err) {
      const message = (err as Error).message;
      if (message !== lastError) log.warn({ err: message }, 'status cycle failed; retrying every cycle');
      lastError = message;
      return undefined;
    }
  }

  /** Runs cycles one at a time; a request during a cycle gets one more cycle after it. */
  function run(): Promise<SyncReport | undefined> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let report: SyncReport | undefined;
      do {
        again = false;
        report = await cycle();
      } while (again && !stopped);
      return report;
    })().finally(() => (running = undefined));
    return running;
  }

  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    timer = setTimeout(() => {
      void run().finally(() => {
        if (!stopped) loop();
      });
    }, config.STATUS_CYCLE_MS);
    // The cycle alone must not keep a process alive (the CLI, tests); `vigil serve` has its sockets.
    timer.unref();
  };

  let kickTimer: NodeJS.Timeout | undefined;
  const manage = opts.manage !== false;
  const kick = () => {
    if (stopped || !lock.held || kickTimer) return;
    // Editors write in bursts (truncate, write, rename); one cycle after the burst is enough.
    kickTimer = setTimeout(() => {
      kickTimer = undefined;
      void run();
    }, 20);
  };

  const watched = new Set(Object.values(statusFileName));
  let watcher: FSWatcher | undefined;
  try {
    if (manage && opts.watchFiles !== false) watcher = watch(files.dir, (_event, name) => {
      if (name && watched.has(String(name))) kick();
    });
    watcher?.on('error', (err) => log.warn({ err: err.message }, 'watching the state files failed; the cycle still picks edits up'));
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'cannot watch the state files; the cycle still picks edits up');
  }

  // Shared subscriber: subscribe only (never unsubscribe on stop: the gateway may listen to the same channel).
  const onMessage = (channel: string) => {
    if (channel === opts.keys.channels.status) kick();
  };
  if (opts.subscriber && manage) {
    opts.subscriber.on('message', onMessage);
    await opts.subscriber.subscribe(opts.keys.channels.status);
  }

  const hooks = createStatusHooks({
    redis: opts.redis,
    keys: opts.keys,
    store: parts.store,
    effects: parts.effects,
    availableUsers: parts.availableUsers,
    blockedAction: config.BLOCKED_CLIENT_ACTION,
    unenrolled: config.UNENROLLED_CLIENTS,
    log,
    leaseMs: opts.gatewayLeaseMs,
    onChange: kick,
  });
  const service = createStatusService({ ...parts, kick });

  // The first cycle before returning: a leader has Redis rebuilt from the files when start resolves.
  if (manage) {
    await run();
    loop();
  }

  return {
    service,
    hooks,
    syncNow: run,
    isLeader: () => lock.held,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(kickTimer);
      watcher?.close();
      opts.subscriber?.off('message', onMessage);
      await running;
      // A last cycle, so changes made just before the shutdown are in the files.
      if (lock.held) await cycle();
      await hooks.close();
      await lock.release().catch((err) => log.warn({ err: (err as Error).message }, 'could not release the status-manager lock'));
    },
  };
}
