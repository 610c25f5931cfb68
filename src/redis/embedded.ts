import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { writeFileAtomic } from '../data/folders.js';

export class RedisServerMissingError extends Error {
  override name = 'RedisServerMissingError';
  constructor() {
    super(
      'redis-server was not found on PATH.\n' +
        '  Install it:            sudo apt-get install -y redis-server\n' +
        '  or use your own Redis: REDIS_URL=redis://host:6379 vigil serve',
    );
  }
}

/** Asks the kernel for a port that is free right now on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisServerOptions {
  /** Folder for the AOF and any dump; created when missing. */
  dir: string;
  port?: number;
  /** Durable by default: the action queue and states must survive a restart. */
  appendonly?: boolean;
  /** Extra `--name value` arguments. */
  extraArgs?: string[];
}

/** The running server's pid and port, in its folder: how a later start finds a server whose parent died. */
const RUNNING_FILE = 'embedded-redis.json';
const runningSchema = z.object({ pid: z.number().int().positive(), port: z.number().int().positive() });

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Stops a redis-server left running on this folder by a process that died without stopping it (killed, crashed):
 * two servers must not share one AOF. It is recognised by its pid and by the title Redis gives itself,
 * `redis-server 127.0.0.1:<port>` (Linux /proc); SIGTERM lets it flush its AOF first.
 */
async function stopLeftover(dir: string): Promise<void> {
  const file = join(dir, RUNNING_FILE);
  let left: z.infer<typeof runningSchema>;
  try {
    left = runningSchema.parse(JSON.parse(await readFile(file, 'utf8')));
  } catch {
    return;
  }
  const title = await readFile(`/proc/${left.pid}/cmdline`, 'utf8').catch(() => '');
  if (alive(left.pid) && new RegExp(`^redis-server 127\\.0\\.0\\.1:${left.port}(\\s|\\0|$)`).test(title)) {
    process.kill(left.pid, 'SIGTERM');
    for (const deadline = Date.now() + 10_000; alive(left.pid) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    if (alive(left.pid)) process.kill(left.pid, 'SIGKILL');
  }
  await rm(file, { force: true });
}

/**
 * A private redis-server child process on a loopback port with a random password: the embedded
 * default of `vigil serve` and the server every test run starts for itself.
 *
 * It runs in a process group of its own: Ctrl-C in a terminal (and systemd's stop) signals the whole group at
 * once, and a server stopped at the same moment as Vigil lost what Vigil still wrote while stopping (the last
 * status changes, audit records). Vigil stops it last instead; one that outlived a killed Vigil is stopped at
 * the next start (stopLeftover).
 */
export class RedisServerProcess {
  private child: ChildProcess | undefined;
  readonly password = randomBytes(18).toString('base64url');
  port = 0;

  constructor(private readonly options: RedisServerOptions) {}

  get url(): string {
    return `redis://:${this.password}@127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    await stopLeftover(this.options.dir);
    if (!this.port) this.port = this.options.port ?? (await freePort());
    // The password goes in through stdin (`redis-server -` reads its configuration there first): an argument
    // would be readable by every local user in /proc/<pid>/cmdline until Redis rewrites its process title.
    const args = [
      '-',
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.options.dir,
      '--appendonly', this.options.appendonly === false ? 'no' : 'yes',
      '--appendfsync', 'everysec',
      // Skipping fsync while a rewrite runs keeps command latency flat (the rewrite's own disk writes would stall it).
      '--no-appendfsync-on-rewrite', 'yes',
      '--save', '',
      '--daemonize', 'no',
      '--loglevel', 'warning',
      ...(this.options.extraArgs ?? []),
    ];
    const child = spawn('redis-server', args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    this.child = child;
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`requirepass ${this.password}\n`);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new RedisServerMissingError() : err));
    });
    await spawned;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}: ${stderr.trim()}`);
      if (await this.ping()) {
        await writeFileAtomic(join(this.options.dir, RUNNING_FILE), JSON.stringify({ pid: child.pid, port: this.port }));
        return;
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${this.port} within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async ping(): Promise<boolean> {
    const probe = new Redis({ port: this.port, host: '127.0.0.1', password: this.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => {});
    try {
      await probe.connect();
      // A server loading its AOF answers LOADING errors until ready.
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  }

  /** Stops the server; SIGTERM makes Redis flush its AOF before it exits. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    await rm(join(this.options.dir, RUNNING_FILE), { force: true });
  }

  /** Simulates a crash: no chance to flush. */
  kill(): void {
    this.child?.kill('SIGKILL');
    this.child = undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null;
  }
}
