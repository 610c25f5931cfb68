import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, type Redis } from 'ioredis';
import { projectRoot } from '../paths.js';

/**
 * Lua scripts live in src/redis/scripts as `<name>-<numberOfKeys>.lua`, each opening with a header
 * that names its KEYS and ARGV. They are defined once per connection and called by SHA.
 */
export const scriptsDir = join(projectRoot, 'src', 'redis', 'scripts');

export interface VigilScripts {
  removeIfSilent(clients: string, client: string, image: string, seen: string, id: string, cutoffMs: number): Promise<number>;
  ackAction(actions: string, actionId: string): Promise<number>;
  touchClient(clients: string, client: string, seen: string, id: string, nowMs: number, nowIso: string): Promise<number>;
  /** Decisions: CAS the history and queue the action atomically; returns the new revision or 0 on conflict. */
  commitDecision(history: string, actions: string, expectedRev: string, state: string, ttlMs: number, actionJson: string, wakeChannel: string, id: string, trailField: string, recordJson: string): Promise<number>;
  /** Status manager: add/remove one id in JSON-array fields of Clients_status; args are field, 'add'|'remove' pairs. */
  statusChange(clientsStatus: string, id: string, ...fieldOps: string[]): Promise<number[]>;
  statusCas(clientsStatus: string, field: string, expected: string, value: string): Promise<number>;
  managerLockRenew(lock: string, owner: string, ttlMs: number): Promise<number>;
  managerLockRelease(lock: string, owner: string): Promise<number>;
  /** Vision: takes the longest-waiting ready client that is neither skipped nor leased; returns [id, readyScore] or null. */
  takeReady(ready: string, leases: string, nowMs: number, leaseMs: number, scan: number, skipJson: string): Promise<[string, string] | null>;
}

export type VigilRedis = Redis & VigilScripts;

/** A script file's command name, number of keys and source; undefined for a file not named `<name>-<numberOfKeys>.lua`. */
function readScript(file: string): { name: string; numberOfKeys: number; lua: string } | undefined {
  const match = /^(\w+)-(\d+)\.lua$/.exec(file);
  return match ? { name: match[1]!, numberOfKeys: Number(match[2]), lua: readFileSync(join(scriptsDir, file), 'utf8') } : undefined;
}

/** Every script as an ioredis command (storeFrame is called through storeFrame() instead, without a copy). */
export function defineScripts(client: Redis): VigilRedis {
  for (const file of readdirSync(scriptsDir)) {
    const script = readScript(file);
    if (script) client.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  return client as VigilRedis;
}

/** What a zero-copy command needs of the socket ioredis hands it (net.Socket and tls.TLSSocket both qualify). */
interface CorkableStream {
  cork(): void;
  uncork(): void;
  write(chunk: string | Buffer): boolean;
}

const isCorkable = (s: object): s is CorkableStream => typeof (s as Partial<CorkableStream>).cork === 'function' && typeof (s as Partial<CorkableStream>).write === 'function';

/** One RESP bulk string. */
const bulk = (arg: string): string => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;

/**
 * A command with one large Buffer argument that reaches the socket as it is. ioredis copies a command
 * with a Buffer argument into one new Buffer before writing it (a 40 kB allocation and copy per
 * frame, garbage-collector work at 1000 agents) and builds it from the argument list on every call;
 * this one is given its RESP text already made (`head` up to the Buffer's length line, `tail` after
 * it) and writes head, Buffer and tail to the corked socket, so Node sends them with one writev and
 * the frame bytes are never copied in user space. Replies, the command timeout and ordering are
 * still ioredis's: the command goes through `sendCommand` like any other.
 */
class BufferArgCommand extends Command {
  constructor(
    name: string,
    private readonly head: string,
    private readonly data: Buffer,
    private readonly tail: string,
  ) {
    super(name, [], { replyEncoding: 'utf8' });
  }

  override toWritable(socket: object): string | Buffer {
    if (!isCorkable(socket)) return Buffer.concat([Buffer.from(this.head), this.data, Buffer.from(this.tail)]);
    // ioredis writes what is returned right after this call, but not always within sendCommand (an offline
    // queue flushed on reconnect calls this later): uncorking on the next tick pairs every cork whoever calls.
    socket.cork();
    socket.write(this.head);
    socket.write(this.data);
    process.nextTick(() => socket.uncork());
    return this.tail;
  }
}

function sendBufferArg(redis: Redis, name: string, head: string, data: Buffer, tail: string): Promise<unknown> {
  return redis.sendCommand(new BufferArgCommand(name, head, data, tail)) as Promise<unknown>;
}

/**
 * A script whose arguments are `before` strings, one Buffer, then `after` strings (frames), called
 * without ioredis's copy and argument processing: EVALSHA, and EVAL when Redis does not know the
 * script yet (restart, SCRIPT FLUSH), as ioredis's own scripts do. `prefix(keysAndArgsBefore)` makes
 * the RESP text before the Buffer once (e.g. per client) so a call only formats the few arguments
 * that change.
 */
export class BufferScript {
  private readonly lua: string;
  private readonly numKeys: number;
  /** `*<count>`, the command and the script, for EVALSHA and for EVAL: the same on every call. */
  private readonly evalshaHead: string;
  private readonly evalHead: string;

  constructor(
    file: string,
    private readonly argsBefore: number,
    private readonly argsAfter: number,
  ) {
    const script = readScript(file);
    if (!script) throw new Error(`${file}: a script file is named <name>-<numberOfKeys>.lua`);
    this.lua = script.lua;
    this.numKeys = script.numberOfKeys;
    const count = `*${3 + argsBefore + 1 + argsAfter}\r\n`;
    const sha = createHash('sha1').update(this.lua).digest('hex');
    this.evalshaHead = `${count}${bulk('evalsha')}${bulk(sha)}${bulk(String(this.numKeys))}`;
    this.evalHead = `${count}${bulk('eval')}${bulk(this.lua)}${bulk(String(this.numKeys))}`;
  }

  /** The RESP text of the KEYS and ARGV before the Buffer: made once per client by the caller. */
  prefix(before: readonly string[]): string {
    if (before.length !== this.argsBefore) throw new Error(`expected ${this.argsBefore} arguments before the buffer, got ${before.length}`);
    return before.map(bulk).join('');
  }

  /** The RESP text of the ARGV after the Buffer. */
  suffix(after: readonly string[]): string {
    if (after.length !== this.argsAfter) throw new Error(`expected ${this.argsAfter} arguments after the buffer, got ${after.length}`);
    return `\r\n${after.map(bulk).join('')}`;
  }

  call(redis: Redis, prefix: string, data: Buffer, suffix: string): Promise<unknown> {
    const rest = `${prefix}$${data.length}\r\n`;
    return sendBufferArg(redis, 'evalsha', this.evalshaHead + rest, data, suffix).catch((err: Error) => {
      if (!err.message.startsWith('NOSCRIPT')) throw err;
      return sendBufferArg(redis, 'eval', this.evalHead + rest, data, suffix);
    });
  }
}

const storeFrameScript = new BufferScript('storeFrame-5.lua', 6, 3);

/** The RESP text of storeFrame's keys and client id: the same on every frame of a client, so made once per client. */
export function storeFramePrefix(clients: string, client: string, image: string, ready: string, seen: string, id: string): string {
  return storeFrameScript.prefix([clients, client, image, ready, seen, id]);
}

/** The RESP text of storeFrame's format and time: the same for every frame of that format in that millisecond. */
export function storeFrameSuffix(format: string, nowMs: number, nowIso: string): string {
  return storeFrameScript.suffix([format, String(nowMs), nowIso]);
}

/**
 * storeFrame-5.lua with the frame bytes written to Redis without a copy; resolves to the frame_number.
 * Passing the bytes through the script costs Redis ~50 µs more per 40 kB frame than a plain HSET: Redis's Lua
 * hashes every byte of each argument it turns into a Lua string (Redis patched Lua's sampled string hash to a
 * full one against hash flooding; `perf` on redis-server 7.0.15 puts ~45 % of its CPU in that loop), and copies
 * them into a Lua string and back. But only a script can keep them out of the AOF (see the script): 87–91 µs
 * of Redis CPU per frame against 119–122 µs when they were also appended to the AOF.
 */
export function storeFrame(redis: Redis, prefix: string, data: Buffer, suffix: string): Promise<number> {
  return storeFrameScript.call(redis, prefix, data, suffix) as Promise<number>;
}
