import type { Logger } from 'pino';
import type { StatusEffects } from './statusEffects.js';
import type { StatusFileRead, StatusFiles } from './statusFiles.js';
import {
  computeDeactivated,
  diffLists,
  inputLists,
  mergeLists,
  sameList,
  sortedUnique,
  statusField,
  type InputList,
  type OutputList,
} from './statusPolicy.js';
import type { StatusStore } from './statusStore.js';

export interface SyncReport {
  /** Redis had no merge base (first start, or Redis lost its data): it was rebuilt from the files. */
  rebuilt: boolean;
  /** Lists whose Redis field changed under the manager; retried on the next cycle. */
  conflicts: InputList[];
  /** Files written this cycle. */
  written: string[];
}

/**
 * One cycle of seed 001's Server_Manager, run only by the lock holder: the JSON files and
 * Clients_status are merged three ways against the last agreed state (so a hand edit and an API call
 * in the same cycle both stand), then active/deactivated are recomputed and written.
 */
export class StatusSync {
  private reported = new Map<InputList, string>();

  constructor(
    private readonly deps: {
      store: StatusStore;
      files: StatusFiles;
      effects: StatusEffects;
      availableUsers: () => Promise<string[]>;
      log?: Logger;
    },
  ) {}

  async syncOnce(): Promise<SyncReport> {
    const { store, files, effects } = this.deps;
    const [record, synced, live, available] = await Promise.all([store.readStatus(), store.readSynced(), store.liveClients(), this.deps.availableUsers()]);
    const rebuilt = synced === undefined;
    if (rebuilt) this.deps.log?.info('rebuilding Clients_status from the state files');
    const base: Record<InputList, string[]> = synced ?? { paused: [], blocked: [], network: [] };
    const nextBase = { ...base };
    const merged = {} as Record<InputList, string[]>;
    const report: SyncReport = { rebuilt, conflicts: [], written: [] };

    for (const list of inputLists) {
      const field = statusField[list];
      const redisSide = record.lists[field];
      const file = await files.read(list);
      this.noteProblem(list, file);
      // A bad file counts as unchanged: the last good state stays in force and the file is left alone
      // until an admin fixes it or changes this list through the API (then the file gets that state).
      const fileSide = file.kind === 'ok' ? file.clients : file.kind === 'missing' ? [] : rebuilt ? redisSide : base[list];
      // On a rebuild, Redis may hold only changes made since it lost its data: keep both sides.
      const result = rebuilt ? sortedUnique([...fileSide, ...redisSide]) : mergeLists(base[list], fileSide, redisSide);
      merged[list] = redisSide;
      if (!sameList(result, redisSide) || record.raw[field] === undefined) {
        if (!(await store.compareAndSet(field, record.raw[field], result))) {
          report.conflicts.push(list);
          continue;
        }
        if (!rebuilt) {
          const { added, removed } = diffLists(redisSide, result);
          await effects.apply(list, 'add', added);
          await effects.apply(list, 'remove', removed);
        }
      }
      merged[list] = result;
      if (file.kind === 'missing' || !sameList(fileSide, result)) {
        // Do not overwrite an edit that landed since the read; the next cycle merges it.
        const now = await files.readText(list);
        if (now !== (file.kind === 'missing' ? undefined : file.text)) continue;
        await files.write(list, result);
        report.written.push(files.path(list));
      }
      nextBase[list] = result;
    }

    const outputs: Record<OutputList, string[]> = { active: live, deactivated: computeDeactivated(available, live, merged.blocked) };
    for (const list of ['active', 'deactivated'] as const) {
      const field = statusField[list];
      const before = record.lists[field];
      if (!sameList(before, outputs[list]) || record.raw[field] === undefined) {
        if (await store.compareAndSet(field, record.raw[field], outputs[list])) {
          const { added, removed } = diffLists(before, outputs[list]);
          await effects.apply(list, 'add', added);
          await effects.apply(list, 'remove', removed);
        }
      }
      if (await files.writeIfChanged(list, outputs[list])) report.written.push(files.path(list));
    }
    // Connected blocked agents the gateways must close (seed 001's clients_to_close).
    const liveSet = new Set(live);
    const toClose = merged.blocked.filter((id) => liveSet.has(id));
    if (!sameList(record.lists.clients_to_close, toClose) || record.raw.clients_to_close === undefined) {
      await store.compareAndSet(statusField.toClose, record.raw.clients_to_close, toClose);
    }
    // Only on change: every write lands in the AOF, and the cycle runs twice a second forever.
    if (!synced || inputLists.some((l) => !sameList(synced[l], nextBase[l]))) await store.writeSynced(nextBase);
    return report;
  }

  private noteProblem(list: InputList, file: StatusFileRead): void {
    const previous = this.reported.get(list);
    if (file.kind === 'bad') {
      if (previous !== file.problem.message) {
        this.deps.log?.error({ file: file.problem.file, line: file.problem.line, column: file.problem.column, path: file.problem.path }, `${file.problem.message} — the last good state stays in force`);
        this.reported.set(list, file.problem.message);
      }
    } else if (previous !== undefined) {
      this.deps.log?.info({ list }, 'state file is valid again');
      this.reported.delete(list);
    }
  }
}
