import { readdir } from 'node:fs/promises';
import { clientIdSchema } from '../domain/protocol.js';

/**
 * Seed 000's get_available_users: the enrolled users are the folders of Users_DataBase, without the
 * seed's `dummy` sample user and without names that are not valid client ids (hidden folders, path
 * tricks). A stand-in until src/users/ offers the same: swap this one function for it.
 */
export async function scanAvailableUsers(usersDatabase: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(usersDatabase, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isDirectory() && e.name !== 'dummy' && clientIdSchema.safeParse(e.name).success)
    .map((e) => e.name)
    .sort();
}
