import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../data/folders.js';
import { clientIdSchema } from '../domain/protocol.js';
import { sortedUnique, statusFileName, type StatusList } from './statusPolicy.js';

/** Where in a state file the problem is: a character position (bad JSON) or a JSON path (bad shape). */
export interface StatusFileProblem {
  file: string;
  message: string;
  line?: number;
  column?: number;
  position?: number;
  path?: string;
}

export type StatusFileRead =
  | { kind: 'ok'; clients: string[]; text: string }
  | { kind: 'missing' }
  | { kind: 'bad'; problem: StatusFileProblem; text: string };

/** Seed 001's format: `{"clients": [...]}`, sorted, 2-space indent (as orjson OPT_INDENT_2), plus a final newline. */
export function formatStatusFile(clients: Iterable<string>): string {
  return `${JSON.stringify({ clients: sortedUnique(clients) }, null, 2)}\n`;
}

function lineColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  return { line, column: position - before.lastIndexOf('\n') };
}

/**
 * Validates a state file's text: it must be exactly `{"clients": [client id, ...]}`. Problems name the file and the place.
 */
export function parseStatusFile(file: string, text: string): { ok: true; clients: string[] } | { ok: false; problem: StatusFileProblem } {
  // The seed reads an empty file as no clients, but an editor truncating before it writes shows the
  // same bytes for a moment; taking that as "unpause/unblock everyone" would message every agent.
  if (text.trim() === '') {
    return { ok: false, problem: { file, position: 0, line: 1, column: 1, message: `${file}: empty; write {"clients": []} (or delete the file) to empty the list` } };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const raw = (err as Error).message;
    const pos = /position (\d+)/.exec(raw);
    const position = pos ? Number(pos[1]) : text.length;
    const { line, column } = lineColumn(text, position);
    const reason = raw.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '');
    return { ok: false, problem: { file, position, line, column, message: `${file}: not valid JSON at line ${line} column ${column} (position ${position}): ${reason}` } };
  }
  const shape = (path: string, what: string) => ({ ok: false as const, problem: { file, path, message: `${file}: ${path}: ${what}; expected {"clients": ["user1", ...]}` } });
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return shape('$', 'not an object');
  const keys = Object.keys(data);
  const extra = keys.filter((k) => k !== 'clients');
  if (extra.length) return shape(`$.${extra[0]}`, 'unknown key');
  const clients = (data as { clients?: unknown }).clients;
  if (!Array.isArray(clients)) return shape('$.clients', clients === undefined ? 'missing' : 'not an array');
  for (const [i, id] of clients.entries()) {
    if (typeof id !== 'string') return shape(`$.clients[${i}]`, `${JSON.stringify(id)} is not a string`);
    const valid = clientIdSchema.safeParse(id);
    if (!valid.success) return shape(`$.clients[${i}]`, `${JSON.stringify(id)} is not ${valid.error.issues[0]?.message ?? 'a client id'}`);
  }
  return { ok: true, clients: sortedUnique(clients as string[]) };
}

/** The five state files of one namespace (the only code that reads or writes them). */
export class StatusFiles {
  constructor(readonly dir: string) {}

  path(list: StatusList): string {
    return join(this.dir, statusFileName[list]);
  }

  async readText(list: StatusList): Promise<string | undefined> {
    try {
      return await readFile(this.path(list), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async read(list: StatusList): Promise<StatusFileRead> {
    const text = await this.readText(list);
    if (text === undefined) return { kind: 'missing' };
    const parsed = parseStatusFile(statusFileName[list], text);
    return parsed.ok ? { kind: 'ok', clients: parsed.clients, text } : { kind: 'bad', problem: parsed.problem, text };
  }

  async write(list: StatusList, clients: Iterable<string>): Promise<void> {
    await writeFileAtomic(this.path(list), formatStatusFile(clients));
  }

  /** Writes only when the content differs (keeps mtimes still and editors quiet). Returns whether it wrote. */
  async writeIfChanged(list: StatusList, clients: Iterable<string>): Promise<boolean> {
    const text = formatStatusFile(clients);
    if ((await this.readText(list)) === text) return false;
    await writeFileAtomic(this.path(list), text);
    return true;
  }
}
