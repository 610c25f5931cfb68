import type { Logger } from 'pino';
import { CloseCode, type ActionMessage } from '../domain/protocol.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import type { StatusEvent } from './statusPolicy.js';
import { StatusStore } from './statusStore.js';

/** The two things this needs from a gateway (src/gateway/gateway.ts's Gateway has both). */
export interface ClosableGateway {
  sendTo(clientId: string, message: ActionMessage): boolean;
  disconnect(clientId: string, code: number, reason: string): boolean;
}

const BLOCKED_REASON = 'client blocked by an administrator';

/**
 * Closes the sockets of clients blocked while connected: on the `blocked` message of
 * keys.channels.status (the action it carries is sent first, then the socket is closed with
 * CloseCode.BLOCKED), and, for a gateway that missed the message (Redis reconnecting), by polling
 * seed 001's `clients_to_close` field. Returns a function that stops both.
 */
export function closeBlockedAgents(opts: { redis: VigilRedis; subscriber: VigilRedis; keys: Keys; gateway: ClosableGateway; log?: Logger; pollMs?: number }): () => void {
  const { gateway, keys } = opts;
  const store = new StatusStore(opts.redis, keys);
  const onMessage = (channel: string, message: string) => {
    if (channel !== keys.channels.status) return;
    let event: StatusEvent;
    try {
      event = JSON.parse(message) as StatusEvent;
    } catch {
      return;
    }
    if (event.state !== 'blocked') return;
    if (event.action) gateway.sendTo(event.client, event.action);
    if (gateway.disconnect(event.client, CloseCode.BLOCKED, BLOCKED_REASON)) opts.log?.info({ client: event.client }, 'closed the connection of a blocked client');
  };
  opts.subscriber.on('message', onMessage);
  opts.subscriber.subscribe(keys.channels.status).catch((err: Error) => opts.log?.warn({ err: err.message }, 'status channel subscribe failed'));
  const timer = setInterval(() => {
    store
      .readStatus()
      .then((s) => {
        for (const id of s.lists.clients_to_close) gateway.disconnect(id, CloseCode.BLOCKED, BLOCKED_REASON);
      })
      .catch(() => undefined);
  }, opts.pollMs ?? 2_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    opts.subscriber.off('message', onMessage);
  };
}
