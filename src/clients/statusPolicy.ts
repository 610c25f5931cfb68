import { Action, Reason, reasonMessage, type ActionName } from '../domain/action.js';
import { CloseCode, type ActionMessage } from '../domain/protocol.js';
import type { Admission } from '../gateway/hooks.js';

/**
 * Seed 001's client states as pure decisions: no Redis, no files. The status manager, the service
 * and the gateway hooks call these and do the I/O themselves.
 */

/** Lists an admin (or an agent, for `network`) changes; each has a JSON file and a Clients_status field. */
export const inputLists = ['paused', 'blocked', 'network'] as const;
export type InputList = (typeof inputLists)[number];
/** Lists the manager computes and only writes. */
export const outputLists = ['active', 'deactivated'] as const;
export type OutputList = (typeof outputLists)[number];
export type StatusList = InputList | OutputList;

/** Seed 001's file names under Data/Server_Data/<namespace>/. */
export const statusFileName: Record<StatusList, string> = {
  paused: 'pause_clients.json',
  blocked: 'blocked_clients.json',
  network: 'Network_Action.json',
  active: 'active_clients.json',
  deactivated: 'deactivate_clients.json',
};

/** Seed 001's Clients_status fields. The vision scheduler reads paused_clients and blocked_clients. */
export const statusField = {
  paused: 'paused_clients',
  blocked: 'blocked_clients',
  network: 'connecting_internet_error',
  active: 'active_clients',
  deactivated: 'deactivate_clients',
  toClose: 'clients_to_close',
} as const satisfies Record<StatusList | 'toClose', string>;

/** Close code for an agent whose client id is not an enrolled user (application range, next to CloseCode.BLOCKED). */
export const NOT_AVAILABLE_CLOSE_CODE = CloseCode.NOT_AVAILABLE;

export type ClientState = 'active' | 'paused' | 'blocked' | 'deactivated' | 'connection_error';

/** What is published on keys.channels.status as JSON `{client, state, action?}`. */
export type StatusEventState =
  | 'paused'
  | 'resumed'
  | 'blocked'
  | 'unblocked'
  | 'connection_error'
  | 'connection_restored'
  | 'active'
  | 'inactive'
  | 'deactivated';
export interface StatusEvent {
  client: string;
  state: StatusEventState;
  /** With state "blocked": the action to send the agent before closing its socket with CloseCode.BLOCKED. */
  action?: ActionMessage;
}

export const sortedUnique = (ids: Iterable<string>): string[] => [...new Set(ids)].sort();

export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function diffLists(before: readonly string[], after: readonly string[]): { added: string[]; removed: string[] } {
  const b = new Set(before);
  const a = new Set(after);
  return { added: sortedUnique(after.filter((x) => !b.has(x))), removed: sortedUnique(before.filter((x) => !a.has(x))) };
}

/** Seed 001: deactivated = (available − active) ∪ (available ∩ blocked). */
export function computeDeactivated(available: Iterable<string>, active: Iterable<string>, blocked: Iterable<string>): string[] {
  const act = new Set(active);
  const blk = new Set(blocked);
  return sortedUnique([...available].filter((id) => !act.has(id) || blk.has(id)));
}

/**
 * Three-way merge of one list: `base` is what the file and Redis last agreed on; an id added or
 * removed on either side since then is added or removed in the result. Both sides' changes are
 * kept, so an admin's hand edit and an API call in the same cycle never undo each other.
 */
export function mergeLists(base: readonly string[], file: readonly string[], redis: readonly string[]): string[] {
  const result = new Set(base);
  for (const side of [file, redis]) {
    const { added, removed } = diffLists(base, side);
    for (const id of removed) result.delete(id);
    for (const id of added) result.add(id);
  }
  return sortedUnique(result);
}

/** Every list of one moment, as the manager or the service sees it. */
export interface StatusSnapshot {
  available: readonly string[];
  active: readonly string[];
  paused: readonly string[];
  blocked: readonly string[];
  network: readonly string[];
}

export interface ClientStatus {
  id: string;
  /** The state an admin sees first: blocked > paused > connection_error > active > deactivated. */
  state: ClientState;
  /** Every list the client is in (a paused client may also be active, say). */
  states: ClientState[];
  /** An enrolled user (a folder in Users_DataBase). */
  enrolled: boolean;
  /** An agent is connected now. */
  connected: boolean;
}

const precedence: ClientState[] = ['blocked', 'paused', 'connection_error', 'active', 'deactivated'];

export function clientStatuses(s: StatusSnapshot): ClientStatus[] {
  const available = new Set(s.available);
  const active = new Set(s.active);
  const paused = new Set(s.paused);
  const blocked = new Set(s.blocked);
  const network = new Set(s.network);
  const deactivated = new Set(computeDeactivated(s.available, s.active, s.blocked));
  const ids = sortedUnique([...available, ...active, ...paused, ...blocked, ...network]);
  return ids.map((id) => {
    const states: ClientState[] = [];
    if (blocked.has(id)) states.push('blocked');
    if (paused.has(id)) states.push('paused');
    if (network.has(id)) states.push('connection_error');
    if (active.has(id)) states.push('active');
    if (deactivated.has(id)) states.push('deactivated');
    // A known id in no list: neither enrolled nor connected, yet named in a file (e.g. a deleted user still blocked).
    const state = precedence.find((p) => states.includes(p)) ?? 'deactivated';
    return { id, state, states, enrolled: available.has(id), connected: active.has(id) };
  });
}

export function actionMessage(action: Action, reason: Reason, id: string, at: number): ActionMessage {
  return { type: 'action', id, action, reason, message: reasonMessage[reason], at };
}

export type ChangeKind = 'add' | 'remove';

/**
 * What an agent is sent when an admin changes its state (seed 001/000). Pausing and resuming
 * carry NO_ACTION: they inform the agent, they do not lock anything. Unblocking sends nothing (the
 * agent is not connected: its connections were refused) — its pending BLOCKED actions are dropped.
 */
export function agentActionFor(list: InputList, kind: ChangeKind, blockedAction: ActionName): { action: Action; reason: Reason } | undefined {
  if (list === 'paused') return { action: Action.NO_ACTION, reason: kind === 'add' ? Reason.REASON_PAUSED_CLIENT : Reason.REASON_RESUME_CLIENT };
  if (list === 'blocked' && kind === 'add') return { action: Action[blockedAction], reason: Reason.REASON_BLOCKED_CLIENT };
  return undefined;
}

export function eventStateFor(list: StatusList, kind: ChangeKind): StatusEventState | undefined {
  switch (list) {
    case 'paused':
      return kind === 'add' ? 'paused' : 'resumed';
    case 'blocked':
      return kind === 'add' ? 'blocked' : 'unblocked';
    case 'network':
      return kind === 'add' ? 'connection_error' : 'connection_restored';
    case 'active':
      return kind === 'add' ? 'active' : 'inactive';
    case 'deactivated':
      return kind === 'add' ? 'deactivated' : undefined;
  }
}

export type UnenrolledPolicy = 'refuse' | 'warn' | 'allow';

/**
 * Whether an authenticated agent may connect. Blocked: refused with CloseCode.BLOCKED and the
 * configured action. Not an enrolled user: with "refuse", refused with 4006 and a LOCK_SCREEN /
 * REASON_CLIENT_NOT_AVAILABLE action (there is no reference face to check it against); with
 * "warn", admitted and sent a WARNING with that reason (`notice`); with "allow", admitted silently.
 */
export function admissionFor(
  input: { blocked: boolean; enrolled: boolean },
  opts: { blockedAction: ActionName; unenrolled: UnenrolledPolicy; actionId: string; now: number },
): { admission: Admission; notice?: ActionMessage } {
  if (input.blocked) {
    return {
      admission: {
        admitted: false,
        closeCode: CloseCode.BLOCKED,
        closeReason: 'client blocked by an administrator',
        action: actionMessage(Action[opts.blockedAction], Reason.REASON_BLOCKED_CLIENT, opts.actionId, opts.now),
      },
    };
  }
  if (!input.enrolled) {
    if (opts.unenrolled === 'refuse') {
      return {
        admission: {
          admitted: false,
          closeCode: NOT_AVAILABLE_CLOSE_CODE,
          closeReason: 'client is not an enrolled user',
          action: actionMessage(Action.ACTION_LOCK_SCREEN, Reason.REASON_CLIENT_NOT_AVAILABLE, opts.actionId, opts.now),
        },
      };
    }
    if (opts.unenrolled === 'allow') return { admission: { admitted: true } };
    return { admission: { admitted: true }, notice: actionMessage(Action.ACTION_WARNING, Reason.REASON_CLIENT_NOT_AVAILABLE, opts.actionId, opts.now) };
  }
  return { admission: { admitted: true } };
}
