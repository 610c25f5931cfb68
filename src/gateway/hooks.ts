import type { ActionMessage } from '../domain/protocol.js';
import type { TelemetryRecord } from '../domain/telemetry.js';

/** Whether an authenticated agent may stay connected (client states decide; seed 001). */
export type Admission =
  | { admitted: true }
  /** Refused: the action (if any) is sent first, then the socket is closed with closeCode. */
  | { admitted: false; closeCode: number; closeReason: string; action?: ActionMessage };

/**
 * What other parts of Vigil plug into the gateway. Every hook is optional; a hook that throws is
 * logged and never breaks the socket.
 */
export interface GatewayHooks {
  /** Called after the token check, before `welcome`. */
  admit?(clientId: string): Promise<Admission>;
  onConnect?(clientId: string, info: { address: string; agent: string }): void | Promise<void>;
  /** abnormal: the socket ended without a normal close (network loss, crash, timeout). */
  onDisconnect?(clientId: string, info: { abnormal: boolean; code: number }): void | Promise<void>;
  onTelemetry?(record: TelemetryRecord): void | Promise<void>;
  onFrame?(clientId: string, seq: number, size: number): void;
}
