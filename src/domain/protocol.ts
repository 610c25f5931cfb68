import { z } from 'zod';
import { telemetryEvents } from './telemetry.js';
import type { Action, Reason } from './action.js';

/**
 * The agent protocol, version 1 (docs/protocol.md is written from this file).
 * Text messages are JSON objects with a `type`; a binary message is a frame (JPEG, PNG or WebP).
 */
export const PROTOCOL_VERSION = 1;

/** Client ids are user names (seed 000/001): they become folder names, so no path tricks. */
export const clientIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a client id: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit')
  .refine((s) => !s.includes('..'), 'a client id without ".."');

export const helloSchema = z.object({
  type: z.literal('hello'),
  v: z.number().int(),
  client: clientIdSchema,
  token: z.string().min(1).max(256),
  /** Free text naming the agent and its version, e.g. "vigil-cli/0.1.0". */
  agent: z.string().max(100).optional(),
  /** Ask the server to confirm each stored frame with a `stored` message (load tests, flow control). */
  frameAcks: z.boolean().optional(),
});

export const agentMessageSchema = z.discriminatedUnion('type', [
  helloSchema,
  z.object({ type: z.literal('heartbeat') }),
  z.object({
    type: z.literal('telemetry'),
    event: z.enum(telemetryEvents),
    /** When the agent saw the event, epoch milliseconds. */
    at: z.number().int().positive().optional(),
  }),
  z.object({ type: z.literal('ack'), id: z.string().min(1).max(100) }),
]);
export type AgentMessage = z.infer<typeof agentMessageSchema>;
export type HelloMessage = z.infer<typeof helloSchema>;

export interface ActionMessage {
  type: 'action';
  id: string;
  action: Action;
  reason: Reason;
  message: string;
  /** When the action was decided, epoch ms. */
  at: number;
}

export type ErrorCode =
  | 'bad_json'
  | 'bad_message'
  | 'unsupported_version'
  | 'not_authenticated'
  | 'already_authenticated'
  | 'auth_failed'
  | 'frame_too_large'
  | 'bad_frame'
  | 'rate_limited'
  | 'degraded'
  | 'unknown_action';

export type ServerMessage =
  | { type: 'welcome'; v: number; client: string; heartbeatMs: number; limits: { frameMaxBytes: number; ratePerSec: number; burst: number } }
  | ActionMessage
  | { type: 'error'; code: ErrorCode; message: string }
  /**
   * `n` counts the frames of this connection (1, 2, ...); `seq` is the client's frame_number; `ms` is
   * the server's time from receiving the frame to having it stored (diagnostics, load tests).
   */
  | { type: 'stored'; seq: number; n: number; ms: number }
  /** Ask the agent for a short burst of frames (liveness over time); see docs/protocol.md. */
  | { type: 'burst'; frames: number; fps: number; reason: string };

/** WebSocket close codes Vigil uses (4000-4999 is the application range). */
export const CloseCode = {
  GOING_AWAY: 1001,
  AUTH_FAILED: 4001,
  HELLO_TIMEOUT: 4002,
  BLOCKED: 4003,
  REPLACED: 4004,
  UNSUPPORTED_VERSION: 4005,
  /** The client id is not an enrolled user (UNENROLLED_CLIENTS=refuse). */
  NOT_AVAILABLE: 4006,
} as const;

export type FrameFormat = 'jpeg' | 'png' | 'webp';

/** Identifies a frame by its magic bytes, whatever the agent calls it. */
export function sniffImageFormat(data: Uint8Array): FrameFormat | undefined {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (data.length >= 8 && data[0] === 0x89 && data[1] === 0x50 && data[2] === 0x4e && data[3] === 0x47 && data[4] === 0x0d && data[5] === 0x0a && data[6] === 0x1a && data[7] === 0x0a) return 'png';
  if (data.length >= 12 && String.fromCharCode(...data.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...data.subarray(8, 12)) === 'WEBP') return 'webp';
  return undefined;
}
