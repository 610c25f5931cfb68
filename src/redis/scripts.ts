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

/** A command whose RESP text is made by the caller (no argument processing by ioredis). */
class RespCommand extends Command {
  constructor(
    name: string,
    private readonly text: string,
  ) {
    super(name, [], { replyEncoding: 'utf8' });
  }

  override toWritable(): string {
    return this.text;
  }
}

const storeFrameLua = readScript('storeFrame-5.lua')!.lua;
/** `*13`, EVAL and the script: the same on every frame. EVAL rather than EVALSHA: Redis caches the script by
 *  its SHA either way, and inside MULTI a NOSCRIPT would only show at EXEC, after the frame was written. */
const storeFrameEvalHead = `*13\r\n${bulk('eval')}${bulk(storeFrameLua)}${bulk('5')}`;
const MULTI = `*1\r\n${bulk('multi')}`;
const EXEC = `*1\r\n${bulk('exec')}`;

/** storeFrame's RESP text that is the same on every frame of a client: made once per client. */
export interface StoreFramePrefix {
  /** HSET image:{id} data, up to the frame's length line. */
  hset: string;
  /** The script call up to its ARGV[2] (the frame's size): keys and client id. */
  script: string;
}

export function storeFramePrefix(clients: string, client: string, image: string, ready: string, seen: string, id: string): StoreFramePrefix {
  return { hset: `*4\r\n${bulk('hset')}${bulk(image)}${bulk('data')}`, script: storeFrameEvalHead + [clients, client, image, ready, seen, id].map(bulk).join('') };
}

/** The RESP text of storeFrame's format and time: the same for every frame of that format in that millisecond. */
export function storeFrameSuffix(format: string, nowMs: number, nowIso: string): string {
  return [format, String(nowMs), nowIso].map(bulk).join('');
}

const ignore = (): void => undefined;

/**
 * Stores a frame and runs storeFrame-5.lua, atomically: MULTI, HSET image:{id} data <frame>, EVAL, EXEC;
 * resolves to the frame_number. The frame is a plain HSET argument, not a script argument: through a
 * script Redis copies it into a Lua string and back, which cost 108–127 µs of Redis CPU per 40 kB frame
 * against 60–66 µs this way (`.scratch` measurement, 20 000 frames, AOF on). The four commands are sent in
 * one synchronous run, so nothing else on the connection lands inside the transaction; their replies stay
 * ioredis's (timeouts, ordering). The frame bytes reach the socket without a copy (BufferArgCommand).
 */
export function storeFrame(redis: Redis, prefix: StoreFramePrefix, data: Buffer, suffix: string): Promise<number> {
  // MULTI's and the queued commands' own replies carry nothing: an error among them also fails EXEC.
  (redis.sendCommand(new RespCommand('multi', MULTI)) as Promise<unknown>).catch(ignore);
  sendBufferArg(redis, 'hset', `${prefix.hset}$${data.length}\r\n`, data, '\r\n').catch(ignore);
  (redis.sendCommand(new RespCommand('eval', `${prefix.script}${bulk(String(data.length))}${suffix}`)) as Promise<unknown>).catch(ignore);
  return (redis.sendCommand(new RespCommand('exec', EXEC)) as Promise<unknown[] | null>).then((replies) => {
    const seq = replies?.[1];
    if (seq instanceof Error) throw seq;
    if (typeof seq !== 'number') throw new Error(`storeFrame: unexpected EXEC reply ${JSON.stringify(replies)}`);
    return seq;
  });
}
