import { Action, Reason } from '../domain/action.js';
import type { Observation } from '../domain/observation.js';
import type { TelemetryRecord } from '../domain/telemetry.js';
import type { ConditionKey, LadderAction, LadderStep, PolicyConfig, TelemetryReasonKey, VisionReasonKey } from './policyFile.js';

/**
 * The decision policy: a pure function from one input (an analysed frame or a device event), the
 * client's history and the policy settings to at most one decision and the next history. No I/O, no
 * clock: `now` is given, so the same inputs always give the same answer and tests need no timers.
 */

export type PolicyInput = { kind: 'observation'; obs: Observation } | { kind: 'telemetry'; record: TelemetryRecord };

/** What the policy remembers about one condition while it holds (or is recovering). */
export interface ConditionState {
  /** When the condition was first seen in this episode (ms). */
  since: number;
  /** When it was last seen (ms). */
  lastSeen: number;
  /** Analyses (checks of this condition) that saw it in this episode. */
  count: number;
  /** Analyses in a row that checked and did not see it (recovery needs clearAfterAnalyses). */
  misses: number;
  /** Index of the highest ladder step already handled (sent or suppressed); -1 before the first. */
  step: number;
  /** The action in force for this condition (the last step actually sent), if any. */
  inForce?: Action;
}

export interface History {
  v: 1;
  /**
   * The newest frame already decided on: older or repeated frames are ignored (retries, slow workers),
   * except that frame's one phones-only follow-up (`followUp` records that it came).
   */
  lastFrame?: { ts: number; seq: number; followUp?: true };
  conditions: Partial<Record<ConditionKey, ConditionState>>;
}

export const emptyHistory = (): History => ({ v: 1, conditions: {} });

export type Scores = Record<string, number>;

export interface Decision {
  action: Action;
  reason: Reason;
  scores: Scores;
  condition: ConditionKey;
  /** The ladder step that fired (0 = first). */
  step: number;
}

export interface PolicyResult {
  decision?: Decision;
  history: History;
  /** True when the input was ignored (an old or repeated frame): the history is unchanged and need not be written. */
  ignored: boolean;
  /** Conditions that recovered with this input (for logs and live views). */
  recovered: ConditionKey[];
  /** Steps reached but not sent because an action at least as severe was in force. */
  suppressed: { condition: ConditionKey; step: number; action: Action }[];
}

export const conditionReason: Record<ConditionKey, Reason> = {
  noFace: Reason.REASON_NO_FACE,
  wrongUser: Reason.REASON_WRONG_USER,
  phone: Reason.REASON_PHONE_DETECTION,
  spoof: Reason.REASON_SPOOF_IMAGE,
  severalFaces: Reason.REASON_SEVERAL_FACES,
  poorImage: Reason.REASON_POOR_IMAGE,
  analysisError: Reason.REASON_ANALYSIS_FAILED,
  cameraDetached: Reason.REASON_CAMERA_NOT_ATTACH,
  cableRemoved: Reason.REASON_CABLE_REMOVE,
  networkLost: Reason.REASON_CONNECT_TO_INTERNET,
};

export const ladderAction: Record<LadderAction, Action> = {
  warning: Action.ACTION_WARNING,
  lock_screen: Action.ACTION_LOCK_SCREEN,
  sign_out: Action.ACTION_SIGN_OUT,
  error: Action.ACTION_ERROR,
};

/** Severity for choosing between decisions and for suppression; errors stand apart (0). */
const severity: Record<Action, number> = {
  [Action.NO_ACTION]: 0,
  [Action.ACTION_ERROR]: 0,
  [Action.ACTION_WARNING]: 1,
  [Action.ACTION_LOCK_SCREEN]: 2,
  [Action.ACTION_SIGN_OUT]: 3,
};

/** When two conditions fire on the same input with the same severity, the earlier key wins. */
const priority: ConditionKey[] = ['spoof', 'wrongUser', 'phone', 'cableRemoved', 'cameraDetached', 'networkLost', 'severalFaces', 'noFace', 'poorImage', 'analysisError'];

const telemetryKeys: TelemetryReasonKey[] = ['cameraDetached', 'cableRemoved', 'networkLost'];

/** held = the input saw the condition, clear = it checked and did not, unknown = it could not tell. */
type Verdict = 'held' | 'clear' | 'unknown';

interface Evaluation {
  verdicts: Partial<Record<ConditionKey, Verdict>>;
  scores: Partial<Record<ConditionKey, Scores>>;
}

/** Reads one analysed frame into a verdict per condition, never guessing where the frame says nothing. */
export function evaluateObservation(obs: Observation, cfg: PolicyConfig): Evaluation {
  const r = cfg.reasons;
  const verdicts: Evaluation['verdicts'] = {};
  const scores: Evaluation['scores'] = {};

  if (obs.error) {
    verdicts.analysisError = 'held';
    scores.analysisError = {};
    // A frame that could not be read says nothing about faces, phones or identity.
    return { verdicts, scores };
  }
  verdicts.analysisError = 'clear';
  if (obs.stages?.followUp) {
    // A phones-only follow-up of a frame already evaluated: its faces are carried, so it is no second
    // analysis of faces, identity or spoof (grace counted in analyses must not advance twice per frame).
    evaluatePhones(obs, cfg, verdicts, scores);
    return { verdicts, scores };
  }
  // Frames arrive, so the camera and the network work: device conditions have recovered.
  for (const key of telemetryKeys) verdicts[key] = 'clear';

  const maxFaceScore = obs.faces.reduce((m, f) => Math.max(m, f.score), 0);
  const q = obs.quality;
  const poor = q !== undefined && (q.tooDark || q.tooBright || q.blurred);
  const qualityScores: Scores = q ? { brightness: q.brightness, sharpness: q.sharpness } : {};

  const confidentFaces = obs.faces.filter((f) => f.score >= r.noFace.minFaceScore).length;
  if (confidentFaces > 0) {
    verdicts.noFace = 'clear';
  } else if (poor || obs.faces.length > 0) {
    // A dark, glaring or blurred image, or a weak detection, is not proof that nobody is there.
    verdicts.noFace = 'unknown';
  } else {
    verdicts.noFace = 'held';
  }
  scores.noFace = { faces: obs.faces.length, maxFaceScore, ...qualityScores };

  verdicts.poorImage = poor && confidentFaces === 0 ? 'held' : 'clear';
  scores.poorImage = { ...qualityScores, faces: obs.faces.length };

  const countedFaces = obs.faces.filter((f) => f.score >= r.severalFaces.minFaceScore).length;
  verdicts.severalFaces = countedFaces >= 2 ? 'held' : 'clear';
  scores.severalFaces = { faces: countedFaces, maxFaceScore };

  if (obs.identity) {
    const id = obs.identity;
    const distanceOk = id.distanceToOwn === undefined || id.distanceToOwn >= r.wrongUser.minDistanceToOwn;
    const stranger = id.verdict === 'other_user' || (id.verdict === 'unknown' && r.wrongUser.countUnknown);
    verdicts.wrongUser = id.verdict === 'match' ? 'clear' : stranger && distanceOk ? 'held' : 'unknown';
    const s: Scores = {};
    if (id.distanceToOwn !== undefined) s.distanceToOwn = id.distanceToOwn;
    if (id.nearestOther) s.nearestOtherDistance = id.nearestOther.distance;
    scores.wrongUser = s;
  }

  if (obs.spoof) {
    const sp = obs.spoof;
    const byScore = r.spoof.realScoreBelow !== null && sp.realScore < r.spoof.realScoreBelow;
    verdicts.spoof = sp.verdict === 'spoof' || byScore ? 'held' : sp.verdict === 'live' ? 'clear' : 'unknown';
    scores.spoof = { realScore: sp.realScore };
  }

  evaluatePhones(obs, cfg, verdicts, scores);
  return { verdicts, scores };
}

function evaluatePhones(obs: Observation, cfg: PolicyConfig, verdicts: Evaluation['verdicts'], scores: Evaluation['scores']): void {
  if (!obs.phones) return;
  const r = cfg.reasons.phone;
  const ph = obs.phones;
  const maxScore = ph.detections.reduce((m, d) => Math.max(m, d.score), 0);
  const held = r.requirePersistent ? ph.persistent : maxScore >= r.minScore;
  verdicts.phone = held ? 'held' : 'clear';
  scores.phone = { phones: ph.detections.length, maxPhoneScore: maxScore, persistent: ph.persistent ? 1 : 0 };
}

export function evaluateTelemetry(record: TelemetryRecord): Evaluation {
  const v: Evaluation['verdicts'] = {};
  switch (record.event) {
    case 'camera_detached':
      v.cameraDetached = 'held';
      break;
    case 'cable_removed':
      v.cableRemoved = 'held';
      break;
    case 'camera_attached':
      v.cameraDetached = 'clear';
      v.cableRemoved = 'clear';
      break;
    case 'network_lost':
      v.networkLost = 'held';
      break;
    case 'network_restored':
      v.networkLost = 'clear';
      break;
  }
  return { verdicts: v, scores: {} };
}

function isTelemetryKey(key: ConditionKey): key is TelemetryReasonKey {
  return (telemetryKeys as string[]).includes(key);
}

function ladderOf(key: ConditionKey, cfg: PolicyConfig): LadderStep[] {
  if (isTelemetryKey(key)) return [{ action: cfg.reasons[key].action, afterMs: 0, analyses: 1 }];
  return cfg.reasons[key as VisionReasonKey].ladder;
}

function clearAfterOf(key: ConditionKey, cfg: PolicyConfig): number {
  // A device recovery event (or a frame arriving) is conclusive at once.
  return isTelemetryKey(key) ? 1 : cfg.reasons[key as VisionReasonKey].clearAfterAnalyses;
}

/**
 * Runs the policy on one input. At most one decision comes out: the most severe step reached on
 * this input; others that are still due fire on the next input. A step never fires twice in one
 * episode; an episode ends when the condition recovers (or goes stale).
 */
export function decide(input: PolicyInput, history: History, cfg: PolicyConfig, now: number): PolicyResult {
  if (input.kind === 'observation') {
    const { frameTs, frameSeq } = input.obs;
    const last = history.lastFrame;
    const followUpOfLast = input.obs.stages?.followUp === true && last !== undefined && frameTs === last.ts && frameSeq === last.seq && !last.followUp;
    if (last && !followUpOfLast && (frameTs < last.ts || (frameTs === last.ts && frameSeq <= last.seq))) {
      return { history, ignored: true, recovered: [], suppressed: [] };
    }
  }
  const evaluation = input.kind === 'observation' ? evaluateObservation(input.obs, cfg) : evaluateTelemetry(input.record);
  const conditions: History['conditions'] = {};
  const recovered: ConditionKey[] = [];
  for (const [k, s] of Object.entries(history.conditions)) {
    // Not seen for staleAfterMs: the episode is over (nothing in force any more); a new sighting starts afresh.
    if (now - s.lastSeen > cfg.staleAfterMs) recovered.push(k as ConditionKey);
    else conditions[k as ConditionKey] = { ...s };
  }

  for (const [k, verdict] of Object.entries(evaluation.verdicts) as [ConditionKey, Verdict][]) {
    const enabled = cfg.reasons[k].enabled;
    const state = conditions[k];
    if (verdict === 'held' && enabled) {
      if (!state) {
        conditions[k] = { since: now, lastSeen: now, count: 1, misses: 0, step: -1 };
      } else {
        state.lastSeen = now;
        state.count += 1;
        state.misses = 0;
      }
    } else if ((verdict === 'clear' || !enabled) && state) {
      // A frame captured before a device event was received says nothing about that event.
      if (input.kind === 'observation' && isTelemetryKey(k) && input.obs.frameTs <= state.since) continue;
      state.misses += 1;
      if (!enabled || state.misses >= clearAfterOf(k, cfg)) {
        delete conditions[k];
        recovered.push(k);
      }
    }
  }

  // Which actions are in force, to suppress lesser ones (a locked screen needs no warning).
  const inForce = (except: ConditionKey): number =>
    Object.entries(conditions).reduce((m, [k, s]) => (k === except || s.inForce === undefined ? m : Math.max(m, severity[s.inForce])), 0);

  const due: { key: ConditionKey; step: number; action: Action }[] = [];
  // Only a condition this input saw can fire: escalating on a frame that could not tell (dark, no
  // identity check) would act on evidence the frame does not hold.
  for (const [k, state] of Object.entries(conditions) as [ConditionKey, ConditionState][]) {
    if (evaluation.verdicts[k] !== 'held' || !cfg.reasons[k].enabled) continue;
    const ladder = ladderOf(k, cfg);
    let reached = -1;
    ladder.forEach((step, i) => {
      if (now - state.since >= step.afterMs && state.count >= step.analyses) reached = i;
    });
    if (reached > state.step) due.push({ key: k, step: reached, action: ladderAction[ladder[reached]!.action] });
  }

  const suppressed: PolicyResult['suppressed'] = [];
  const sendable = due.filter((d) => {
    const sev = severity[d.action];
    if (cfg.suppressLowerSeverity && sev > 0 && sev <= inForce(d.key)) {
      conditions[d.key]!.step = d.step;
      suppressed.push({ condition: d.key, step: d.step, action: d.action });
      return false;
    }
    return true;
  });
  sendable.sort((a, b) => severity[b.action] - severity[a.action] || priority.indexOf(a.key) - priority.indexOf(b.key));

  let decision: Decision | undefined;
  const chosen = sendable[0];
  if (chosen) {
    const state = conditions[chosen.key]!;
    state.step = chosen.step;
    state.inForce = chosen.action;
    decision = {
      action: chosen.action,
      reason: conditionReason[chosen.key],
      condition: chosen.key,
      step: chosen.step,
      scores: { ...(evaluation.scores[chosen.key] ?? {}), heldMs: now - state.since, analyses: state.count },
    };
  }

  const next: History = { v: 1, conditions };
  const lastFrame = input.kind === 'observation' ? { ts: input.obs.frameTs, seq: input.obs.frameSeq, ...(input.obs.stages?.followUp ? { followUp: true as const } : {}) } : history.lastFrame;
  if (lastFrame) next.lastFrame = lastFrame;
  return { decision, history: next, ignored: false, recovered, suppressed };
}
