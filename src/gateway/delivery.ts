import type { Logger } from 'pino';
import { ClientsData } from '../clients/clientsData.js';
import type { ActionMessage } from '../domain/protocol.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';

/** Every connected client's queue is re-read at least this often, whatever the wake-ups said. */
const SAFETY_SWEEP_MS = 60_000;

/** What delivery needs of a live agent connection. */
export interface DeliveryTarget {
  readonly clientId: string | undefined;
  send(message: ActionMessage): void;
}

/**
 * Pushes queued actions to connected agents. An action stays in the client's queue until the agent
 * acks it; it is sent when the agent connects, when the queue's wake-up arrives (pub/sub), and again
 * when it has gone unacked for `redeliverMs` (lost on the wire, agent busy, gateway restarted).
 */
export class ActionDelivery {
  private readonly targets = new Map<string, { target: DeliveryTarget; sentAt: Map<string, number> }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: VigilRedis,
    private readonly subscriber: VigilRedis,
    private readonly keys: Keys,
    private readonly redeliverMs: number,
    private readonly log?: Logger,
  ) {
    this.subscriber.on('message', this.onMessage);
    // Subscription failures are retried by ioredis on reconnect (autoResubscribe).
    this.subscriber.subscribe(keys.channels.actions).catch((err: Error) => log?.warn({ err: err.message }, 'actions channel subscribe failed'));
    // Redelivery checks only clients with actions in flight; a rotating slice of all the others is
    // re-read as well, so a wake-up lost while the subscriber reconnected is caught within a minute,
    // without a burst of one read per connected client on every tick.
    const tickMs = Math.max(100, Math.min(redeliverMs, 5_000));
    this.timer = setInterval(() => {
      const ids = [...this.targets.keys()];
      const slice = Math.ceil(ids.length / Math.max(1, Math.round(SAFETY_SWEEP_MS / tickMs)));
      for (let i = 0; i < ids.length; i++) {
        const inSlice = (i - this.sweepFrom + ids.length) % ids.length < slice;
        if (inSlice || this.targets.get(ids[i]!)!.sentAt.size > 0) void this.flush(ids[i]!);
      }
      this.sweepFrom = ids.length ? (this.sweepFrom + slice) % ids.length : 0;
    }, tickMs);
    this.timer.unref();
    // After a reconnect of the subscriber, wake-ups may have been missed: check everyone once.
    this.subscriber.on('ready', this.flushAll);
  }

  private sweepFrom = 0;

  private readonly flushAll = (): void => {
    for (const id of this.targets.keys()) void this.flush(id);
  };

  private readonly onMessage = (channel: string, clientId: string): void => {
    if (channel === this.keys.channels.actions && this.targets.has(clientId)) void this.flush(clientId);
  };

  attach(target: DeliveryTarget & { clientId: string }): void {
    this.targets.set(target.clientId, { target, sentAt: new Map() });
    void this.flush(target.clientId);
  }

  detach(clientId: string, target: DeliveryTarget): void {
    if (this.targets.get(clientId)?.target === target) this.targets.delete(clientId);
  }

  /** Sends every queued action not sent recently; a failed read (Redis away) is retried by the timer. */
  async flush(clientId: string): Promise<void> {
    const entry = this.targets.get(clientId);
    if (!entry) return;
    let pending: ActionMessage[];
    try {
      pending = await new ClientsData(this.redis, this.keys, clientId).pendingActions();
    } catch (err) {
      this.log?.debug({ clientId, err: (err as Error).message }, 'action flush deferred');
      return;
    }
    if (this.targets.get(clientId) !== entry) return;
    const now = Date.now();
    const live = new Set<string>();
    for (const action of pending) {
      live.add(action.id);
      const sent = entry.sentAt.get(action.id);
      if (sent !== undefined && now - sent < this.redeliverMs) continue;
      entry.sentAt.set(action.id, now);
      entry.target.send(action);
    }
    for (const id of entry.sentAt.keys()) if (!live.has(id)) entry.sentAt.delete(id);
  }

  async ack(clientId: string, actionId: string): Promise<boolean> {
    const removed = await new ClientsData(this.redis, this.keys, clientId).ackAction(actionId);
    this.targets.get(clientId)?.sentAt.delete(actionId);
    return removed;
  }

  close(): void {
    clearInterval(this.timer);
    this.subscriber.off('message', this.onMessage);
    this.subscriber.off('ready', this.flushAll);
    this.targets.clear();
  }
}
