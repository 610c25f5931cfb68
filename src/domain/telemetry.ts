/** Device events an agent reports; each maps to a policy reason (camera -> REASON_CAMERA_NOT_ATTACH, ...). */
export const telemetryEvents = [
  'camera_attached',
  'camera_detached',
  'cable_removed',
  'network_lost',
  'network_restored',
] as const;
export type TelemetryEvent = (typeof telemetryEvents)[number];

export interface TelemetryRecord {
  clientId: string;
  event: TelemetryEvent;
  /** When the agent saw it (epoch ms); the server's receive time when the agent gave none. */
  at: number;
  receivedAt: number;
}
