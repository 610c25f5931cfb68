import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { startCleanupLoop } from '../clients/cleanup.js';
import { ClientRegistry } from '../clients/registry.js';
import { bootstrapDataFolders, dataFolders, type DataFolders } from '../data/folders.js';
import { Gateway, publishAgentMessage } from '../gateway/gateway.js';
import type { GatewayHooks } from '../gateway/hooks.js';
import { AgentTokenStore } from '../gateway/tokens.js';
import { buildHttpServer } from '../http/server.js';
import { createAdminPlugin } from '../http/admin.js';
import { usersServiceFrom } from '../http/adapters.js';
import { createDecisionEngine, type DecisionEngine } from '../decisions/engine.js';
import { startVisionPool, type VisionPool } from '../vision/pool.js';
import { startStatusManager, type StatusManager } from '../clients/statusManager.js';
import { closeBlockedAgents } from '../clients/statusGateway.js';
import { createKeys, type Keys } from '../redis/keys.js';
import { openRedis, type RedisRuntime } from './redis.js';

export type { VisionPool };

/**
 * A running Vigil. `vigil serve` runs every role in one process; `ROLES` picks a subset for
 * scale-out (every role keeps its state in Redis). Parts stop in the reverse order of their start.
 */
export interface Vigil {
  config: Config;
  log: Logger;
  keys: Keys;
  folders: DataFolders;
  redis: RedisRuntime;
  registry: ClientRegistry;
  tokens: AgentTokenStore;
  decisions: DecisionEngine;
  /** Client states (seed 001): the service everywhere; files and the lock only with the manager role. */
  status: StatusManager;
  /** Present with the gateway role. */
  gateway?: Gateway;
  http?: FastifyInstance;
  /** http://host:port, with the gateway role. */
  url?: string;
  /** Present with the vision role. */
  vision?: VisionPool;
  stop(): Promise<void>;
}

export async function startVigil(config: Config, log: Logger): Promise<Vigil> {
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'error while stopping');
      }
    }
  };
  const roles = config.ROLES;
  try {
    const folders = dataFolders(config);
    await bootstrapDataFolders(folders);
    const keys = createKeys(config.NAMESPACE);

    const redis = await openRedis(config, folders, log);
    stops.push(() => redis.close());

    const registry = new ClientRegistry(redis.redis, keys);
    const tokens = new AgentTokenStore(folders.serverData);
    const hooks: GatewayHooks[] = [];
    const vigil: Vigil = { config, log, keys, folders, redis, registry, tokens, decisions: undefined as never, status: undefined as never, stop: stopAll };

    vigil.status = await startStatusManager({ config, log: log.child({ part: 'status' }), redis: redis.redis, subscriber: redis.subscriber, keys, manage: roles.has('manager') });
    stops.push(() => vigil.status.stop());
    // First, so a blocked or unknown client is refused before the other parts see it.
    hooks.push(vigil.status.hooks);

    // Decisions stop after the parts that feed them (gateway telemetry, vision), so in-flight evidence is written.
    vigil.decisions = await createDecisionEngine({ config, log: log.child({ part: 'decisions' }), redis: redis.redis, keys });
    stops.push(() => vigil.decisions.close());
    vigil.decisions.startRetention();
    hooks.push({ onTelemetry: async (record) => void (await vigil.decisions.onTelemetry(record)) });

    if (roles.has('vision')) {
      vigil.vision = await startVisionPool({
        config,
        log: log.child({ part: 'vision' }),
        redis: redis.redis,
        keys,
        onObservation: async (obs, frame) => void (await vigil.decisions.onObservation(obs, frame)),
        requestBurst: (clientId, frames, fps, reason) => publishAgentMessage(redis.redis, keys, clientId, { type: 'burst', frames, fps, reason }),
      });
      stops.push(() => vigil.vision?.stop());
      const pool = vigil.vision;
      hooks.push({ onFrame: () => pool.wake() });
    }

    if (roles.has('gateway')) {
      const gateway = new Gateway({ config, log: log.child({ part: 'gateway' }), keys, redis: redis.redis, subscriber: redis.subscriber, registry, tokens, hooks: mergeHooks(hooks) });
      vigil.gateway = gateway;
      stops.push(() => gateway.close());
      stops.push(closeBlockedAgents({ redis: redis.redis, subscriber: redis.subscriber, keys, gateway, log: log.child({ part: 'status' }) }));

      const cleanup = startCleanupLoop(registry, { intervalMs: config.CLEANUP_INTERVAL_MS, timeoutMs: config.CLIENT_TIMEOUT_MS, log: log.child({ part: 'cleanup' }) });
      stops.push(() => cleanup.stop());

      const admin = createAdminPlugin({
        config,
        log: log.child({ part: 'admin' }),
        redis: redis.redis,
        subscriber: redis.subscriber,
        keys,
        registry,
        gateway,
        tokens,
        status: vigil.status.service,
        vision: vigil.vision,
        users: vigil.vision?.users ? usersServiceFrom(vigil.vision.users, folders.usersDatabase) : undefined,
      });
      const http = await buildHttpServer({ config, log, redis: redis.redis, gateway, plugins: [admin] });
      await http.listen({ host: config.HOST, port: config.PORT });
      // Closing the HTTP server first stops new sockets; the gateway then says goodbye to the open ones.
      stops.push(() => http.close());
      vigil.http = http;
      const address = http.server.address();
      const port = typeof address === 'object' && address ? address.port : config.PORT;
      vigil.url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
    }
    log.info({ url: vigil.url, roles: [...roles], namespace: config.NAMESPACE, dataDir: folders.root }, 'vigil is running');
    return vigil;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Combines the hooks of several parts: admit refuses when any part refuses; the rest run in turn. */
export function mergeHooks(parts: GatewayHooks[]): GatewayHooks {
  return {
    async admit(clientId) {
      for (const p of parts) {
        const verdict = await p.admit?.(clientId);
        if (verdict && !verdict.admitted) return verdict;
      }
      return { admitted: true };
    },
    async onConnect(clientId, info) {
      for (const p of parts) await p.onConnect?.(clientId, info);
    },
    async onDisconnect(clientId, info) {
      for (const p of parts) await p.onDisconnect?.(clientId, info);
    },
    async onTelemetry(record) {
      for (const p of parts) await p.onTelemetry?.(record);
    },
    onFrame(clientId, seq, size) {
      for (const p of parts) p.onFrame?.(clientId, seq, size);
    },
  };
}
