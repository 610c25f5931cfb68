import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/index.js';

/** Seed 000's data layout, rooted at DATA_DIR. */
export interface DataFolders {
  root: string;
  usersDatabase: string;
  actions: string;
  audit: string;
  serverData: string;
  redis: string;
}

export function dataFolders(config: Pick<Config, 'DATA_DIR' | 'NAMESPACE'>): DataFolders {
  const root = config.DATA_DIR;
  return {
    root,
    usersDatabase: join(root, 'Users_DataBase'),
    actions: join(root, 'Actions'),
    audit: join(root, 'Audit'),
    serverData: join(root, 'Server_Data', config.NAMESPACE),
    redis: join(root, 'redis'),
  };
}

/** Creates the folders (seed 000's create_Data_Directory); existing content is left alone. */
export async function bootstrapDataFolders(folders: DataFolders): Promise<void> {
  for (const dir of [folders.usersDatabase, folders.actions, folders.audit, folders.serverData]) {
    await mkdir(dir, { recursive: true });
  }
}

/**
 * Writes a file atomically: a temp file in the same folder, fsynced, then renamed over the target,
 * so a reader never sees half a file and a crash leaves either the old or the new content.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/**
 * Writes a file atomically and only if no file of that name exists yet: the temp file is hard-linked
 * to the target (link fails on an existing name), so two writers never overwrite each other and a
 * reader never sees half a file. Returns false when the name is taken.
 */
export async function writeFileAtomicExclusive(path: string, data: string | Uint8Array): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp);
  }
}
