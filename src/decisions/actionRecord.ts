import { randomUUID } from 'node:crypto';
import { actionName, reasonMessage, reasonName, type Action, type ActionName, type Reason, type ReasonName } from '../domain/action.js';
import type { ActionMessage } from '../domain/protocol.js';
import type { TelemetryEvent } from '../domain/telemetry.js';
import type { ConditionKey } from './policyFile.js';
import type { Decision, PolicyInput, Scores } from './policy.js';

/**
 * The full record of one action: what the agent receives is a subset (ActionMessage); the record
 * goes to the audit stream, the daily JSONL file, the evidence sidecar and the live events.
 */
export interface ActionRecord {
  id: string;
  clientId: string;
  /** The monitored user; a client id is the user's name (seeds 000/001). */
  user: string;
  action: Action;
  actionName: ActionName;
  reason: Reason;
  reasonName: ReasonName;
  message: string;
  condition: ConditionKey;
  /** Ladder step that fired (0 = first rung). */
  step: number;
  scores: Scores;
  source: 'observation' | 'telemetry';
  telemetryEvent?: TelemetryEvent;
  /** The analysed frame: its number and arrival time (epoch ms). */
  frameSeq?: number;
  frameTs?: number;
  /** When the policy decided (epoch ms). */
  decidedAt: number;
  modelVersion?: string;
  policyVersion: string;
  /** Paths relative to DATA_DIR, once written. */
  evidence?: { image?: string; sidecar: string };
  evidenceError?: string;
}

export function buildActionRecord(input: PolicyInput, decision: Decision, policyVersion: string, decidedAt: number, id: string = randomUUID()): ActionRecord {
  const clientId = input.kind === 'observation' ? input.obs.clientId : input.record.clientId;
  const record: ActionRecord = {
    id,
    clientId,
    user: clientId,
    action: decision.action,
    actionName: actionName(decision.action),
    reason: decision.reason,
    reasonName: reasonName(decision.reason),
    message: reasonMessage[decision.reason],
    condition: decision.condition,
    step: decision.step,
    scores: decision.scores,
    source: input.kind,
    decidedAt,
    policyVersion,
  };
  if (input.kind === 'observation') {
    record.frameSeq = input.obs.frameSeq;
    record.frameTs = input.obs.frameTs;
    record.modelVersion = input.obs.modelVersion;
  } else {
    record.telemetryEvent = input.record.event;
  }
  return record;
}

export function toActionMessage(record: ActionRecord): ActionMessage {
  return { type: 'action', id: record.id, action: record.action, reason: record.reason, message: record.message, at: record.decidedAt };
}
