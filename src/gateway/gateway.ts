import type { WebSocket, RawData } from 'ws';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { ClientsData } from '../clients/clientsData.js';
import type { ClientRegistry } from '../clients/registry.js';
import {
  agentMessageSchema,
  CloseCode,
  PROTOCOL_VERSION,
  sniffImageFormat,
  type AgentMessage,
  type ErrorCode,
  type HelloMessage,
  type ServerMessage,
} from '../domain/protocol.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import { ActionDelivery, type DeliveryTarget } from './delivery.js';
import type { GatewayHooks } from './hooks.js';
import { TokenBucket } from './rateLimit.js';
import type { AgentTokenStore } from './tokens.js';

export interface GatewayDeps {
  config: Config;
  log: Logger;
  keys: Keys;
  redis: VigilRedis;
  subscriber: VigilRedis;
  registry: ClientRegistry;
  tokens: AgentTokenStore;
  hooks?: GatewayHooks;
}

export interface GatewayStats {
  connections: number;
  authenticated: number;
  framesStored: number;
  framesRejected: number;
  lastFrameAt: number | null;
}

const HEARTBEAT_MS = 1_000;
/** A socket that has not answered a ping for this long is dead (cable pulled, laptop closed). */
const DEAD_PEER_MS = 15_000;
const PING_SLICES = 10;

/**
 * The agent side of Vigil: one WebSocket per agent at /v1/agent (protocol in docs/protocol.md).
 * A bad message gets an `error` and the connection stays; when Redis is away frames are answered
 * with `degraded` and the socket stays open until Redis is back.
 */
export class Gateway {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly sockets = new Set<AgentSession>();
  /** The sockets split in PING_SLICES sets, pinged in turn. */
  private readonly pingSlices = Array.from({ length: PING_SLICES }, () => new Set<AgentSession>());
  private pingTurn = 0;
  private nextSlice = 0;
  readonly delivery: ActionDelivery;
  readonly stats: GatewayStats = { connections: 0, authenticated: 0, framesStored: 0, framesRejected: 0, lastFrameAt: null };
  private readonly pinger: NodeJS.Timeout;

  constructor(readonly deps: GatewayDeps) {
    this.delivery = new ActionDelivery(deps.redis, deps.subscriber, deps.keys, deps.config.ACTION_REDELIVER_MS, deps.log);
    // Every socket is pinged once per DEAD_PEER_MS / 3, a slice at a time: 1000 pings (and their
    // 1000 pongs) in one tick would stall every frame behind them for several milliseconds.
    this.pinger = setInterval(() => {
      const slice = this.pingSlices[this.pingTurn++ % PING_SLICES]!;
      for (const s of slice) s.checkAlive();
    }, DEAD_PEER_MS / 3 / PING_SLICES);
    this.pinger.unref();
    deps.subscriber.on('message', this.onAgentMessage);
    deps.subscriber.subscribe(deps.keys.channels.agentMessages).catch((err: Error) => deps.log.warn({ err: err.message }, 'agent-messages subscribe failed'));
  }

  /** Server messages published by other parts or processes (e.g. a burst request from a vision worker). */
  private readonly onAgentMessage = (channel: string, raw: string): void => {
    if (channel !== this.deps.keys.channels.agentMessages) return;
    try {
      const { client, message } = JSON.parse(raw) as { client: string; message: ServerMessage };
      this.sendTo(client, message);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'bad agent message on the channel');
    }
  };

  handle(socket: WebSocket, address: string): void {
    const session = new AgentSession(this, socket, address, this.nextSlice++ % PING_SLICES);
    this.sockets.add(session);
    this.pingSlices[session.pingSlice]!.add(session);
    this.stats.connections = this.sockets.size;
  }

  /** Registers an authenticated session; an older connection of the same client is closed. */
  bind(session: AgentSession): void {
    const previous = this.sessions.get(session.clientId!);
    this.sessions.set(session.clientId!, session);
    if (previous && previous !== session) previous.close(CloseCode.REPLACED, 'replaced by a newer connection');
    this.stats.authenticated = this.sessions.size;
  }

  forget(session: AgentSession): void {
    this.sockets.delete(session);
    this.pingSlices[session.pingSlice]!.delete(session);
    if (session.clientId && this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    this.stats.connections = this.sockets.size;
    this.stats.authenticated = this.sessions.size;
  }

  session(clientId: string): AgentSession | undefined {
    return this.sessions.get(clientId);
  }

  connectedClients(): string[] {
    return [...this.sessions.keys()].sort();
  }

  /** Sends a server message to a connected client (e.g. a burst request); false when not connected here. */
  sendTo(clientId: string, message: ServerMessage): boolean {
    const s = this.sessions.get(clientId);
    if (!s) return false;
    s.send(message);
    return true;
  }

  /** Closes a client's connection (a blocked client); false when it is not connected here. */
  disconnect(clientId: string, code: number, reason: string): boolean {
    const s = this.sessions.get(clientId);
    if (!s) return false;
    s.close(code, reason);
    return true;
  }

  async runHook<K extends keyof GatewayHooks>(name: K, ...args: Parameters<NonNullable<GatewayHooks[K]>>): Promise<Awaited<ReturnType<NonNullable<GatewayHooks[K]>>> | undefined> {
    const hook = this.deps.hooks?.[name] as ((...a: unknown[]) => unknown) | undefined;
    if (!hook) return undefined;
    try {
      return (await hook(...args)) as Awaited<ReturnType<NonNullable<GatewayHooks[K]>>>;
    } catch (err) {
      this.deps.log.warn({ hook: name, err: (err as Error).message }, 'gateway hook failed');
      return undefined;
    }
  }

  /** Stops taking messages and closes every socket with 1001 so agents reconnect elsewhere. */
  async close(): Promise<void> {
    clearInterval(this.pinger);
    this.deps.subscriber.off('message', this.onAgentMessage);
    for (const s of this.sockets) s.close(CloseCode.GOING_AWAY, 'server shutting down');
    this.delivery.close();
  }
}

/** Sends a server message to an agent through whichever gateway process holds its socket. */
export async function publishAgentMessage(redis: VigilRedis, keys: Keys, client: string, message: ServerMessage): Promise<void> {
  await redis.publish(keys.channels.agentMessages, JSON.stringify({ client, message }));
}

const toBuffer = (data: RawData): Buffer => (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));

class AgentSession implements DeliveryTarget {
  clientId: string | undefined;
  private authenticating = false;
  private frameAcks = false;
  private alive = true;
  private lastPong = Date.now();
  private readonly bucket: TokenBucket;
  private readonly helloTimer: NodeJS.Timeout;
  private closedByServer = false;
  private queue: Promise<void> = Promise.resolve();
  private framesReceived = 0;

  constructor(
    private readonly gw: Gateway,
    private readonly socket: WebSocket,
    private readonly address: string,
    readonly pingSlice: number,
  ) {
    const { config } = gw.deps;
    this.bucket = new TokenBucket(config.AGENT_RATE_PER_SEC, config.AGENT_RATE_BURST);
    this.helloTimer = setTimeout(() => {
      if (!this.clientId) this.close(CloseCode.HELLO_TIMEOUT, 'no hello received in time');
    }, config.HELLO_TIMEOUT_MS);
    // Text messages of one agent are handled in order (a frame sent right after hello waits for it).
    // Frames of an authenticated agent need no wait: one connection sends its scripts to Redis in
    // arrival order, so the newest frame is still the one stored last, and frames pipeline.
    socket.on('message', (data, isBinary) => {
      if (!this.bucket.take()) {
        this.error('rate_limited', `more than ${config.AGENT_RATE_PER_SEC} messages per second; message dropped`);
        return;
      }
      // The hot path: a frame of an authenticated agent, with no closure per message.
      if (isBinary && this.clientId) this.onFrame(toBuffer(data)).catch(this.onFailure);
      else this.queue = this.queue.then(() => this.onMessage(data, isBinary).catch(this.onFailure));
    });
    socket.on('pong', () => (this.lastPong = Date.now()));
    socket.on('close', (code) => void this.onClose(code));
    socket.on('error', (err) => gw.deps.log.debug({ err: err.message, client: this.clientId }, 'agent socket error'));
  }

  private readonly onFailure = (err: Error): void => this.gw.deps.log.error({ err: err.message }, 'agent message failed');

  send(message: ServerMessage): void {
    this.sendText(JSON.stringify(message));
  }

  private sendText(text: string): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(text);
  }

  private error(code: ErrorCode, message: string): void {
    this.send({ type: 'error', code, message });
  }

  close(code: number, reason: string): void {
    this.closedByServer = true;
    this.socket.close(code, reason);
    // A peer that never answers the close handshake is cut off.
    setTimeout(() => this.socket.terminate(), 2_000).unref();
  }

  checkAlive(): void {
    if (Date.now() - this.lastPong > DEAD_PEER_MS) {
      this.alive = false;
      this.socket.terminate();
      return;
    }
    if (this.socket.readyState === this.socket.OPEN) this.socket.ping();
  }

  private async onMessage(data: RawData, isBinary: boolean): Promise<void> {
    const buf = toBuffer(data);
    if (isBinary) return this.onFrame(buf);
    let json: unknown;
    try {
      json = JSON.parse(buf.toString('utf8'));
    } catch {
      return this.error('bad_json', 'text messages must be JSON objects');
    }
    const parsed = agentMessageSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
      return this.error('bad_message', `${where}${issue.message}`);
    }
    await this.onAgentMessage(parsed.data);
  }

  private async onAgentMessage(msg: AgentMessage): Promise<void> {
    if (msg.type === 'hello') return this.onHello(msg);
    if (!this.clientId) return this.error('not_authenticated', 'send hello first');
    const { registry, log } = this.gw.deps;
    const touched = registry.updateClientLastSeen(this.clientId).catch(() => undefined);
    switch (msg.type) {
      case 'heartbeat':
        await touched;
        return;
      case 'ack': {
        try {
          const found = await this.gw.delivery.ack(this.clientId, msg.id);
          if (!found) this.error('unknown_action', `no pending action with id ${msg.id}`);
        } catch {
          // The action stays queued and is delivered again; the agent acks it again then.
          this.error('degraded', 'storage unavailable; the ack will be asked for again');
        }
        return;
      }
      case 'telemetry': {
        const now = Date.now();
        const record = { clientId: this.clientId, event: msg.event, at: msg.at ?? now, receivedAt: now };
        try {
          await new ClientsData(this.gw.deps.redis, this.gw.deps.keys, this.clientId).enqueueReceivedData({ type: 'telemetry', ...record });
        } catch {
          return this.error('degraded', 'storage unavailable; send the telemetry again later');
        }
        log.info({ client: this.clientId, event: msg.event }, 'telemetry');
        await this.gw.runHook('onTelemetry', record);
        return;
      }
    }
  }

  private async onHello(msg: HelloMessage): Promise<void> {
    if (this.clientId || this.authenticating) return this.error('already_authenticated', 'hello was already accepted on this connection');
    if (msg.v !== PROTOCOL_VERSION) {
      this.error('unsupported_version', `this server speaks protocol version ${PROTOCOL_VERSION}`);
      return this.close(CloseCode.UNSUPPORTED_VERSION, 'unsupported protocol version');
    }
    this.authenticating = true;
    const { tokens, log, registry, config } = this.gw.deps;
    let ok = false;
    try {
      ok = await tokens.verify(msg.client, msg.token);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'token store unreadable');
    }
    if (!ok) {
      log.warn({ client: msg.client, address: this.address }, 'agent authentication failed');
      this.error('auth_failed', 'unknown client or wrong token');
      return this.close(CloseCode.AUTH_FAILED, 'authentication failed');
    }
    const admission = await this.gw.runHook('admit', msg.client);
    if (admission && !admission.admitted) {
      if (admission.action) this.send(admission.action);
      return this.close(admission.closeCode, admission.closeReason);
    }
    clearTimeout(this.helloTimer);
    this.clientId = msg.client;
    this.frameAcks = msg.frameAcks === true;
    this.gw.bind(this);
    const agent = msg.agent ?? '';
    try {
      await registry.addClient(msg.client, { address: this.address, agent });
    } catch {
      // Redis away: the client is registered by its next message once Redis is back.
    }
    this.send({
      type: 'welcome',
      v: PROTOCOL_VERSION,
      client: msg.client,
      heartbeatMs: HEARTBEAT_MS,
      limits: { frameMaxBytes: config.FRAME_MAX_BYTES, ratePerSec: config.AGENT_RATE_PER_SEC, burst: config.AGENT_RATE_BURST },
    });
    log.info({ client: msg.client, address: this.address, agent }, 'agent connected');
    this.gw.delivery.attach(this as this & { clientId: string });
    await this.gw.runHook('onConnect', msg.client, { address: this.address, agent });
  }

  private async onFrame(buf: Buffer): Promise<void> {
    const received = performance.now();
    const { config, registry } = this.gw.deps;
    if (!this.clientId) return this.error('not_authenticated', 'send hello before frames');
    const n = ++this.framesReceived;
    if (buf.length > config.FRAME_MAX_BYTES) {
      this.gw.stats.framesRejected++;
      return this.error('frame_too_large', `frame of ${buf.length} bytes exceeds the limit of ${config.FRAME_MAX_BYTES}`);
    }
    const format = sniffImageFormat(buf);
    if (!format) {
      this.gw.stats.framesRejected++;
      return this.error('bad_frame', 'a frame must be a JPEG, PNG or WebP image');
    }
    let seq: number;
    try {
      seq = await registry.storeFrame(this.clientId, buf, format);
    } catch {
      this.gw.stats.framesRejected++;
      return this.error('degraded', 'frame storage is unavailable; frames are dropped until it is back');
    }
    this.gw.stats.framesStored++;
    this.gw.stats.lastFrameAt = Date.now();
    // The same JSON as send({ type: 'stored', seq, n, ms }), without an object and a stringify per frame.
    if (this.frameAcks) this.sendText(`{"type":"stored","seq":${seq},"n":${n},"ms":${Math.round((performance.now() - received) * 1000) / 1000}}`);
    this.gw.deps.hooks?.onFrame?.(this.clientId, seq, buf.length);
  }

  private async onClose(code: number): Promise<void> {
    clearTimeout(this.helloTimer);
    this.gw.forget(this);
    const clientId = this.clientId;
    if (!clientId) return;
    this.gw.delivery.detach(clientId, this);
    // The same client may already be connected again (REPLACED); then its state stays.
    if (this.gw.session(clientId)) return;
    // 1006: the socket ended without a close frame (network loss, killed agent); a dead peer timed out.
    const abnormal = !this.alive || (!this.closedByServer && code === 1006);
    this.gw.deps.log.info({ client: clientId, code, abnormal }, 'agent disconnected');
    await this.gw.deps.registry.removeClient(clientId).catch(() => undefined);
    await this.gw.runHook('onDisconnect', clientId, { abnormal, code });
  }
}
