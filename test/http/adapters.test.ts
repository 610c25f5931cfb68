import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { usersServiceFrom } from '../../src/http/adapters.js';

const root = await mkdtemp(join(tmpdir(), 'vigil-users-'));
after(() => rm(root, { recursive: true, force: true }));
const users = join(root, 'Users_DataBase');
await mkdir(join(users, 'alice'), { recursive: true });
await writeFile(join(users, 'alice', 'a.jpg'), 'x');
await writeFile(join(users, 'alice', 'b.png'), 'x');
await writeFile(join(users, 'alice', 'notes.txt'), 'x');
await writeFile(join(root, 'outside.jpg'), 'keep me');
let refreshed = 0;
const db = {
  listUsers: async () => (await readdir(users)).sort(),
  enrolUser: async (_user: string, images: { name: string; bytes: Buffer }[]) => ({ accepted: images.slice(0, 1).map((i) => ({ name: i.name, file: 'f' })), refused: images.slice(1).map((i) => ({ name: i.name, reason: 'no face' })) }),
  refresh: async () => void refreshed++,
};
const service = usersServiceFrom(db, users);

test('users adapter: lists users with their image counts', async () => {
  assert.deepEqual((await service.list()).map((u) => [u.name, u.images]), [['alice', 2]]);
});

test('users adapter: enrolment reports accepted and refused images', async () => {
  const r = await service.enrol('bob', [
    { filename: '1.jpg', mime: 'image/jpeg', data: Buffer.from('a') },
    { filename: '2.jpg', mime: 'image/jpeg', data: Buffer.from('b') },
  ]);
  assert.equal(r.stored, 1);
  assert.deepEqual(r.refused, [{ name: '2.jpg', reason: 'no face' }]);
});

test('users adapter: delete removes only the user folder, refuses path tricks', async () => {
  await assert.rejects(service.remove('..'));
  await assert.rejects(service.remove('../outside.jpg'));
  assert.equal(await service.remove('nobody'), false);
  assert.equal(await service.remove('alice'), true);
  assert.deepEqual(await readdir(users), []);
  assert.ok((await readdir(root)).includes('outside.jpg'));
  assert.equal(refreshed, 1);
});
