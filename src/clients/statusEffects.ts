import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ActionName } from '../domain/action.js';
import { Reason } from '../domain/action.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import { ClientsData } from './clientsData.js';
import { actionMessage, agentActionFor, eventStateFor, type ChangeKind, type StatusEvent, type StatusList } from './statusPolicy.js';
import type { StatusStore } from './statusStore.js';

/**
 * What follows a state change, whoever made it (API, CLI, a hand edit picked up by the manager, an
 * agent's telemetry): the agent's action goes into its queue (the gateway delivers and redelivers
 * it) and the change is published on keys.channels.status as JSON {client, state, action?}.
 */
export class StatusEffects {
  constructor(
    private readonly redis: VigilRedis,
    private readonly keys: Keys,
    private readonly store: StatusStore,
    private readonly opts: { blockedAction: ActionName; log?: Logger },
  ) {}

  async apply(list: StatusList, kind: ChangeKind, ids: readonly string[]): Promise<void> {
    for (const client of ids) {
      try {
        await this.applyOne(list, kind, client);
      } catch (err) {
        this.opts.log?.warn({ client, list, kind, err: (err as Error).message }, 'could not notify a state change');
      }
    }
  }

  private async applyOne(list: StatusList, kind: ChangeKind, client: string): Promise<void> {
    const data = new ClientsData(this.redis, this.keys, client);
    const state = eventStateFor(list, kind);
    const agentAction = list === 'active' || list === 'deactivated' ? undefined : agentActionFor(list, kind, this.opts.blockedAction);
    const message = agentAction ? actionMessage(agentAction.action, agentAction.reason, randomUUID(), Date.now()) : undefined;
    if (message) await data.enqueueAction(message);
    if (list === 'blocked' && kind === 'remove') {
      // The agent never saw these (its connections were refused); delivered after the unblock they would lock it again.
      for (const pending of await data.pendingActions()) {
        if (pending.reason === Reason.REASON_BLOCKED_CLIENT) await data.ackAction(pending.id);
      }
    }
    if (state) await this.store.publish(message && list === 'blocked' ? { client, state, action: message } : ({ client, state } satisfies StatusEvent));
  }
}
