import type { Command } from 'commander';
import { destination, pino } from 'pino';
import { loadConfig, type Config } from '../../config/index.js';
import { dataFolders } from '../../data/folders.js';
import { connectRedis } from '../../redis/connections.js';
import { createKeys } from '../../redis/keys.js';
import { createStatusParts } from '../../clients/statusManager.js';
import { StatusFiles } from '../../clients/statusFiles.js';
import { clientStatuses, inputLists, statusFileName, type InputList } from '../../clients/statusPolicy.js';
import { createStatusService, NotFoundError, validClientId, type StatusListing } from '../../clients/statusService.js';
import { scanAvailableUsers } from '../../clients/statusUsers.js';

export interface ClientsCommandIo {
  /** Environment for loadConfig (tests pass their own). */
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

type Change = 'pause' | 'resume' | 'block' | 'unblock';
const changes: Record<Change, { list: InputList; kind: 'add' | 'remove'; done: string; already: string; help: string }> = {
  pause: { list: 'paused', kind: 'add', done: 'paused', already: 'already paused', help: 'pause monitoring of a client (its frames are not analysed)' },
  resume: { list: 'paused', kind: 'remove', done: 'resumed', already: 'not paused', help: 'resume monitoring of a paused client' },
  block: { list: 'blocked', kind: 'add', done: 'blocked', already: 'already blocked', help: 'block a client: its agent is locked out and its connections refused' },
  unblock: { list: 'blocked', kind: 'remove', done: 'unblocked', already: 'not blocked', help: 'unblock a client' },
};

/**
 * `vigil clients pause|resume|block|unblock ID` and `vigil clients list [--json]`.
 *
 * With REDIS_URL (or REDIS_SENTINELS) set, a change goes through Redis like an API call: the agent
 * is told at once, and the status manager writes the file (this command writes it itself when no
 * manager runs). Without, the command edits the JSON file (atomically); a running Vigil picks the
 * edit up within a cycle and tells the agent — the embedded Redis of `vigil serve` is private, so
 * this is the way to reach it from a shell.
 */
export function registerClientsCommands(program: Command, io: ClientsCommandIo = {}): void {
  const out = io.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = io.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config = () => loadConfig(io.env ?? process.env);
  const clients = program.command('clients').description("client states (seed 001): pause, resume, block, unblock, list");

  for (const name of Object.keys(changes) as Change[]) {
    clients
      .command(name)
      .description(changes[name].help)
      .argument('<id>', 'client id (the user name)')
      .action(async (rawId: string) => {
        const c = config();
        const id = validClientId(rawId);
        const { changed, how } = hasRedis(c) ? await changeThroughRedis(c, id, name) : await changeFile(c, id, name);
        out(changed ? `${changes[name].done} ${id}${how ? ` (${how})` : ''}` : `${id} was ${changes[name].already}`);
      });
  }

  clients
    .command('list')
    .description('every known client with its state(s)')
    .option('--json', 'print {"clients": [...], "problems": [...]}')
    .action(async (opts: { json?: boolean }) => {
      const c = config();
      const listing = hasRedis(c) ? await listThroughRedis(c) : await listFromFiles(c);
      for (const p of listing.problems) err(`warning: ${p.message} (the last good state stays in force)`);
      if (opts.json) return out(JSON.stringify(listing, null, 2));
      if (!listing.clients.length) return out('no clients (no enrolled users, no connections, no states)');
      const rows = [['CLIENT', 'STATE', 'ALL STATES', 'ENROLLED', 'CONNECTED'], ...listing.clients.map((s) => [s.id, s.state, s.states.join(','), s.enrolled ? 'yes' : 'no', s.connected ? 'yes' : 'no'])];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) out(r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
    });
}

const hasRedis = (c: Config) => Boolean(c.REDIS_URL || c.REDIS_SENTINELS);

async function withRedis<T>(c: Config, fn: (parts: ReturnType<typeof createStatusParts>) => Promise<T>): Promise<T> {
  const log = pino({ level: 'warn' }, destination(2));
  const conns = await connectRedis(c, c.REDIS_URL, log);
  try {
    return await fn(createStatusParts({ config: c, redis: conns.redis, keys: createKeys(c.NAMESPACE), log }));
  } finally {
    await conns.close();
  }
}

async function changeThroughRedis(c: Config, id: string, name: Change): Promise<{ changed: boolean; how: string }> {
  return withRedis(c, async (parts) => {
    const service = createStatusService(parts);
    const { changed } = await service[name](id);
    if (!changed) return { changed, how: '' };
    // No manager running: write the files now, under the same lock a manager would hold.
    if (await parts.lock.acquire()) {
      try {
        await parts.sync.syncOnce();
      } finally {
        await parts.lock.release();
      }
      return { changed, how: `written to ${statusFileName[changes[name].list]}` };
    }
    return { changed, how: 'the running status manager writes the file' };
  });
}

async function listThroughRedis(c: Config): Promise<StatusListing> {
  return withRedis(c, (parts) => createStatusService(parts).list());
}

async function changeFile(c: Config, id: string, name: Change): Promise<{ changed: boolean; how: string }> {
  const { list, kind } = changes[name];
  const files = new StatusFiles(dataFolders(c).serverData);
  const current = await files.read(list);
  if (current.kind === 'bad') throw new Error(`${current.problem.message}\n  fix ${files.path(list)} first (or set REDIS_URL to change the state through Redis)`);
  const ids = current.kind === 'ok' ? current.clients : [];
  if (!(await listFromFiles(c)).clients.some((s) => s.id === id)) throw new NotFoundError(`no client ${id}: not an enrolled user and in no state list`);
  const has = ids.includes(id);
  if (has === (kind === 'add')) return { changed: false, how: '' };
  await files.write(list, kind === 'add' ? [...ids, id] : ids.filter((x) => x !== id));
  return { changed: true, how: `${files.path(list)} edited; a running Vigil applies it within a cycle` };
}

/** States as the files show them (active_clients.json as the manager last wrote it). */
async function listFromFiles(c: Config): Promise<StatusListing> {
  const folders = dataFolders(c);
  const files = new StatusFiles(folders.serverData);
  const reads = await Promise.all([...inputLists, 'active' as const].map((l) => files.read(l)));
  const lists = reads.map((r) => (r.kind === 'ok' ? r.clients : []));
  return {
    clients: clientStatuses({ available: await scanAvailableUsers(folders.usersDatabase), paused: lists[0]!, blocked: lists[1]!, network: lists[2]!, active: lists[3]! }),
    problems: reads.flatMap((r) => (r.kind === 'bad' ? [r.problem] : [])),
  };
}
