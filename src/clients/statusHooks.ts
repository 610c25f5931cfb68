import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ActionName } from '../domain/action.js';
import { Reason } from '../domain/action.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import type { GatewayHooks } from '../gateway/hooks.js';
import { ClientsData } from './clientsData.js';
import type { StatusEffects } from './statusEffects.js';
import { actionMessage, admissionFor, agentActionFor, statusField, type UnenrolledPolicy } from './statusPolicy.js';
import type { StatusStore } from './statusStore.js';

export interface StatusHooks extends GatewayHooks {
  /** This gateway's instance id (names its live-connection set in Redis). */
  readonly instance: string;
  /** Stops renewing the lease and forgets this gateway's connections. */
  close(): Promise<void>;
}

/** How long a gateway's live-connection set outlives its process (renewed every third of it). */
export const GATEWAY_LEASE_MS = 15_000;

/**
 * The gateway's side of the client states. Active connections are kept in Redis per gateway
 * process (several gateways may run), with a lease so a crashed gateway's clients stop counting as
 * active; the process keeps its own sockets in memory only to renew that lease.
 */
export function createStatusHooks(deps: {
  redis: VigilRedis;
  keys: Keys;
  store: StatusStore;
  effects: StatusEffects;
  availableUsers: () => Promise<string[]>;
  blockedAction: ActionName;
  unenrolled: UnenrolledPolicy;
  log?: Logger;
  leaseMs?: number;
  instance?: string;
  /** Called after a connect/disconnect, so a status manager in this process can update active at once. */
  onChange?: () => void;
}): StatusHooks {
  const { store, effects } = deps;
  const instance = deps.instance ?? randomUUID();
  const leaseMs = deps.leaseMs ?? GATEWAY_LEASE_MS;
  const connected = new Set<string>();
  const warn = (what: string, err: unknown) => deps.log?.warn({ err: (err as Error).message }, what);

  const renewTimer = setInterval(() => {
    store.renewGateway(instance, [...connected], leaseMs).catch((err) => warn('could not renew the live-connection lease', err));
  }, Math.max(100, Math.floor(leaseMs / 3)));
  renewTimer.unref();

  async function setNetworkError(clientId: string, on: boolean): Promise<void> {
    const [changed] = await store.change(clientId, [[statusField.network, on ? 'add' : 'remove']]);
    if (changed) await effects.apply('network', on ? 'add' : 'remove', [clientId]);
  }

  return {
    instance,

    async admit(clientId) {
      const [blocked, available] = await Promise.all([store.readList('blocked'), deps.availableUsers()]);
      const { admission, notice } = admissionFor(
        { blocked: blocked.includes(clientId), enrolled: available.includes(clientId) },
        { blockedAction: deps.blockedAction, unenrolled: deps.unenrolled, actionId: randomUUID(), now: Date.now() },
      );
      if (notice) await new ClientsData(deps.redis, deps.keys, clientId).enqueueAction(notice);
      return admission;
    },

    async onConnect(clientId) {
      connected.add(clientId);
      await store.addConnection(instance, clientId, leaseMs);
      await setNetworkError(clientId, false);
      deps.onChange?.();
      // A paused client's agent (perhaps restarted) is told so again, unless that message still waits in its queue.
      if ((await store.readList('paused')).includes(clientId)) {
        const data = new ClientsData(deps.redis, deps.keys, clientId);
        const pending = await data.pendingActions();
        if (!pending.some((a) => a.reason === Reason.REASON_PAUSED_CLIENT || a.reason === Reason.REASON_RESUME_CLIENT)) {
          const paused = agentActionFor('paused', 'add', deps.blockedAction)!;
          await data.enqueueAction(actionMessage(paused.action, paused.reason, randomUUID(), Date.now()));
        }
      }
    },

    async onDisconnect(clientId, info) {
      connected.delete(clientId);
      await store.removeConnection(instance, clientId);
      // Lost without a goodbye: a network (or agent) failure until the agent is back.
      if (info.abnormal) await setNetworkError(clientId, true);
      deps.onChange?.();
    },

    async onTelemetry(record) {
      if (record.event === 'network_lost') await setNetworkError(record.clientId, true);
      else if (record.event === 'network_restored') await setNetworkError(record.clientId, false);
    },

    async close() {
      clearInterval(renewTimer);
      connected.clear();
      await store.dropGateway(instance).catch((err) => warn('could not drop the live-connection set', err));
    },
  };
}
