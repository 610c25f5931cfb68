import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, type ActionMessage, type ServerMessage } from '../domain/protocol.js';
import type { TelemetryEvent } from '../domain/telemetry.js';
import { reconnectDelay } from '../redis/connections.js';

export interface AgentOptions {
  /** ws://host:port/v1/agent */
  url: string;
  clientId: string;
  token: string;
  /** Frames to stream in a loop; none means heartbeats only. */
  frames?: Buffer[];
  fps?: number;
  agentName?: string;
  /** Ask the server to confirm stored frames (load tests measure the frame-stored latency with it). */
  frameAcks?: boolean;
  /** Ack actions automatically (a real agent does; tests may turn it off to test redelivery). */
  autoAck?: boolean;
  reconnect?: boolean;
}

export interface AgentEvents {
  welcome: [ServerMessage & { type: 'welcome' }];
  action: [ActionMessage];
  /** An `error` message from the server (not an EventEmitter 'error': nothing throws when unheard). */
  serverError: [ServerMessage & { type: 'error' }];
  stored: [{ seq: number; latencyMs: number }];
  burst: [ServerMessage & { type: 'burst' }];
  close: [{ code: number; reason: string }];
}

/**
 * A Vigil agent over the v1 protocol: hello, then frames at `fps` and heartbeats, acking every
 * action it receives. When the connection drops it reconnects with jittered exponential backoff.
 * Used by `vigil agent`, the demo, the load bench and the tests.
 */
export class AgentClient extends EventEmitter<AgentEvents> {
  private ws: WebSocket | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private attempt = 0;
  private frameIndex = 0;
  private readonly sendTimes = new Map<number, number>();
  private framesSent = 0;
  authenticated = false;

  constructor(readonly options: AgentOptions) {
    super();
  }

  start(): this {
    this.stopped = false;
    this.connect();
    return this;
  }

  /** Resolves at the next welcome. */
  ready(): Promise<void> {
    if (this.authenticated) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onWelcome = () => {
        this.off('close', onClose);
        resolve();
      };
      const onClose = (c: { code: number; reason: string }) => {
        if (!this.options.reconnect) {
          this.off('welcome', onWelcome);
          reject(new Error(`closed before welcome: ${c.code} ${c.reason}`));
        }
      };
      this.once('welcome', onWelcome);
      this.once('close', onClose);
    });
  }

  private connect(): void {
    const ws = new WebSocket(this.options.url);
    this.ws = ws;
    ws.on('open', () => {
      ws.send(
        JSON.stringify({
          type: 'hello',
          v: PROTOCOL_VERSION,
          client: this.options.clientId,
          token: this.options.token,
          agent: this.options.agentName ?? 'vigil-cli/0.1.0',
          frameAcks: this.options.frameAcks ?? false,
        }),
      );
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(data.toString()) as ServerMessage;
      } catch {
        return;
      }
      this.onServerMessage(msg);
    });
    ws.on('close', (code, reason) => {
      this.authenticated = false;
      this.clearTimers();
      this.emit('close', { code, reason: reason.toString() });
      // Refusals (bad token, blocked, replaced) are final; a lost connection is retried.
      const final = code >= 4000 && code < 4100;
      if (!this.stopped && this.options.reconnect !== false && !final) {
        const t = setTimeout(() => this.connect(), reconnectDelay(this.attempt++) * 2);
        this.timers.push(t);
      }
    });
    ws.on('error', () => {
      // 'close' follows and handles the retry.
    });
  }

  private onServerMessage(msg: ServerMessage): void {
    switch (msg.type) {
      case 'welcome':
        this.authenticated = true;
        this.framesSent = 0;
        this.sendTimes.clear();
        this.attempt = 0;
        this.startStreaming(msg.heartbeatMs);
        this.emit('welcome', msg);
        return;
      case 'action':
        if (this.options.autoAck !== false) this.ack(msg.id);
        this.emit('action', msg);
        return;
      case 'stored': {
        const sentAt = this.sendTimes.get(msg.n);
        this.sendTimes.delete(msg.n);
        if (sentAt !== undefined) this.emit('stored', { seq: msg.seq, latencyMs: performance.now() - sentAt });
        return;
      }
      case 'error':
        this.emit('serverError', msg);
        return;
      case 'burst':
        this.emit('burst', msg);
        this.sendBurst(msg.frames, msg.fps);
        return;
    }
  }

  private startStreaming(heartbeatMs: number): void {
    this.clearTimers();
    this.timers.push(setInterval(() => this.sendJson({ type: 'heartbeat' }), heartbeatMs));
    const frames = this.options.frames ?? [];
    const fps = this.options.fps ?? 1;
    if (frames.length && fps > 0) {
      this.sendFrame();
      this.timers.push(setInterval(() => this.sendFrame(), 1000 / fps));
    }
  }

  private sendBurst(count: number, fps: number): void {
    for (let i = 1; i <= count; i++) this.timers.push(setTimeout(() => this.sendFrame(), (i * 1000) / fps));
  }

  /** Sends the next frame of the loop (or the given bytes). */
  sendFrame(data?: Buffer): void {
    const frames = this.options.frames ?? [];
    const frame = data ?? frames[this.frameIndex++ % Math.max(1, frames.length)];
    if (!frame || !this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    // The server counts the frames of each connection; we count ours the same way to match `stored` replies.
    this.framesSent++;
    if (this.options.frameAcks) this.sendTimes.set(this.framesSent, performance.now());
    this.ws.send(frame, { binary: true });
  }

  sendTelemetry(event: TelemetryEvent): void {
    this.sendJson({ type: 'telemetry', event, at: Date.now() });
  }

  ack(id: string): void {
    this.sendJson({ type: 'ack', id });
  }

  sendJson(msg: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private clearTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Closes for good (no reconnect). */
  stop(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000, 'agent stopping');
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1_000).unref();
    });
  }
}
