import { clientIdSchema } from '../domain/protocol.js';
import type { StatusEffects } from './statusEffects.js';
import type { StatusFileProblem, StatusFiles } from './statusFiles.js';
import { clientStatuses, inputLists, statusField, type ClientStatus, type InputList } from './statusPolicy.js';
import type { StatusStore } from './statusStore.js';

/** Errors the HTTP layer maps by `statusCode` (and the CLI prints). */
export class StatusError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    /** The `error.code` of the HTTP answer. */
    readonly code: string,
  ) {
    super(message);
  }
}
export class BadRequestError extends StatusError {
  override name = 'BadRequestError';
  constructor(message: string) {
    super(message, 400, 'bad_request');
  }
}
export class NotFoundError extends StatusError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super(message, 404, 'not_found');
  }
}

export interface StatusChangeResult {
  client: string;
  /** false when the client already was in that state (the call is idempotent). */
  changed: boolean;
  status: ClientStatus;
}

export interface StatusListing {
  clients: ClientStatus[];
  /** State files that are not valid right now (the last good state stays in force). */
  problems: StatusFileProblem[];
}

export interface StatusService {
  pause(id: string): Promise<StatusChangeResult>;
  resume(id: string): Promise<StatusChangeResult>;
  block(id: string): Promise<StatusChangeResult>;
  unblock(id: string): Promise<StatusChangeResult>;
  /** Every known client (enrolled, connected or named in a state list) with its state(s). */
  list(): Promise<StatusListing>;
  get(id: string): Promise<ClientStatus>;
}

export function validClientId(id: unknown): string {
  const parsed = clientIdSchema.safeParse(id);
  if (!parsed.success) throw new BadRequestError(`${JSON.stringify(id)} is not ${parsed.error.issues[0]?.message ?? 'a client id'}`);
  return parsed.data;
}

/**
 * Admin changes, usable from any process: each one is a single atomic Redis step (so concurrent
 * changes from several processes all stand), followed by the agent's action and the published
 * event. The status manager that holds the lock writes the JSON files within one cycle; `kick`
 * lets the caller ask for that cycle at once.
 */
export function createStatusService(deps: {
  store: StatusStore;
  files: StatusFiles;
  effects: StatusEffects;
  availableUsers: () => Promise<string[]>;
  kick?: () => void;
}): StatusService {
  const { store, effects } = deps;

  async function snapshot(): Promise<StatusListing> {
    const [record, live, available, reads] = await Promise.all([
      store.readStatus(),
      store.liveClients(),
      deps.availableUsers(),
      Promise.all(inputLists.map((l) => deps.files.read(l))),
    ]);
    const problems = reads.flatMap((r) => (r.kind === 'bad' ? [r.problem] : []));
    const clients = clientStatuses({
      available,
      active: live,
      paused: record.lists[statusField.paused],
      blocked: record.lists[statusField.blocked],
      network: record.lists[statusField.network],
    });
    return { clients, problems };
  }

  async function find(id: string): Promise<ClientStatus | undefined> {
    return (await snapshot()).clients.find((c) => c.id === id);
  }

  async function get(rawId: string): Promise<ClientStatus> {
    const id = validClientId(rawId);
    const status = await find(id);
    if (!status) throw new NotFoundError(`no client ${id}: not an enrolled user, not connected and in no state list`);
    return status;
  }

  async function change(rawId: string, list: InputList, kind: 'add' | 'remove'): Promise<StatusChangeResult> {
    const id = validClientId(rawId);
    await get(id);
    const [changed] = await store.change(id, [[statusField[list], kind]]);
    if (changed) {
      await effects.apply(list, kind, [id]);
      deps.kick?.();
    }
    return { client: id, changed: changed === true, status: await get(id) };
  }

  return {
    pause: (id) => change(id, 'paused', 'add'),
    resume: (id) => change(id, 'paused', 'remove'),
    block: (id) => change(id, 'blocked', 'add'),
    unblock: (id) => change(id, 'blocked', 'remove'),
    list: snapshot,
    get,
  };
}
