import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { startCleanupLoop } from '../clients/cleanup.js';
import { ClientRegistry } from '../clients/registry.js';
import { bootstrapDataFolders, dataFolders, type DataFolders } from '../data/folders.js';
import { Gateway } from '../gateway/gateway.js';
import type { GatewayHooks } from '../gateway/hooks.js';
import { AgentTokenStore } from '../gateway/tokens.js';
import { buildHttpServer } from '../http/server.js';
import { createKeys, type Keys } from '../redis/keys.js';
import { openRedis, type RedisRuntime } from './redis.js';

/** A running Vigil (`vigil serve`): every part in one process, stopped in reverse order. */
export interface Vigil {
  config: Config;
  log: Logger;
  keys: Keys;
  folders: DataFolders;
  redis: RedisRuntime;
  registry: ClientRegistry;
  tokens: AgentTokenStore;
  gateway: Gateway;
  http: FastifyInstance;
  /** http://host:port */
  url: string;
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
  try {
    const folders = dataFolders(config);
    await bootstrapDataFolders(folders);
    const keys = createKeys(config.NAMESPACE);

    const redis = await openRedis(config, folders, log);
    stops.push(() => redis.close());

    const registry = new ClientRegistry(redis.redis, keys);
    const tokens = new AgentTokenStore(folders.serverData);
    const hooks: GatewayHooks[] = [];
    const gateway = new Gateway({ config, log: log.child({ part: 'gateway' }), keys, redis: redis.redis, subscriber: redis.subscriber, registry, tokens, hooks: mergeHooks(hooks) });
    stops.push(() => gateway.close());

    const cleanup = startCleanupLoop(registry, { intervalMs: config.CLEANUP_INTERVAL_MS, timeoutMs: config.CLIENT_TIMEOUT_MS, log: log.child({ part: 'cleanup' }) });
    stops.push(() => cleanup.stop());

    const http = await buildHttpServer({ config, log, redis: redis.redis, gateway });
    await http.listen({ host: config.HOST, port: config.PORT });
    // Closing the HTTP server first stops new sockets; the gateway then says goodbye to the open ones.
    stops.push(() => http.close());
    const address = http.server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
    log.info({ url, namespace: config.NAMESPACE, dataDir: folders.root }, 'vigil is serving');

    return { config, log, keys, folders, redis, registry, tokens, gateway, http, url, stop: stopAll };
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
