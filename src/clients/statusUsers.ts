import { userFolders } from '../users/database.js';

/**
 * Seed 000's get_available_users: the enrolled users are the valid user folders of Users_DataBase
 * (src/users), without the seed's `dummy` sample user.
 */
export async function scanAvailableUsers(usersDatabase: string): Promise<string[]> {
  return ((await userFolders(usersDatabase)) ?? []).filter((name) => name !== 'dummy');
}
