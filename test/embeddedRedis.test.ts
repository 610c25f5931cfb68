import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisServerProcess } from '../src/redis/embedded.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function read(server: RedisServerProcess, key: string): Promise<string | null> {
  const redis = new Redis(server.url);
  try {
    return await redis.get(key);
  } finally {
    redis.disconnect();
  }
}

test('Ctrl-C reaches Vigil, not its embedded redis-server: what Vigil writes while stopping is kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-embedded-'));
  try {
    // In a process group of its own, so the SIGINT a terminal sends to its foreground group goes to it alone.
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'helpers', 'embeddedRedisChild.ts'), dir], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('READY') && resolve());
      child.once('exit', (code) => reject(new Error(`the child exited early with ${code}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    process.kill(-child.pid!, 'SIGINT');
    assert.equal(await exited, 0, 'the child could still write to its Redis after Ctrl-C');
    const again = new RedisServerProcess({ dir });
    await again.start();
    try {
      assert.equal(await read(again, 'written-while-stopping'), 'yes', 'and the write is in the AOF');
    } finally {
      await again.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a redis-server left running on the folder (its Vigil was killed) is stopped, with its data flushed, before a new one starts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-embedded-'));
  try {
    const orphan = new RedisServerProcess({ dir });
    await orphan.start();
    const { pid } = JSON.parse(await readFile(join(dir, 'embedded-redis.json'), 'utf8')) as { pid: number };
    const redis = new Redis(orphan.url);
    await redis.set('from-the-orphan', '1');
    redis.disconnect();
    // Nobody stops `orphan`: the next start on the folder must.
    const next = new RedisServerProcess({ dir });
    await next.start();
    try {
      assert.equal(alive(pid), false, 'the leftover server was stopped');
      assert.equal(await read(next, 'from-the-orphan'), '1', 'after flushing its AOF');
    } finally {
      await next.stop();
    }
    await assert.rejects(readFile(join(dir, 'embedded-redis.json')), 'a stopped server leaves no running file');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
