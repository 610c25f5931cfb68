import type { Config } from '../config/index.js';
import type { Box, Observation } from '../domain/observation.js';
import type { AnalysisPlan, AnalysisResult, FrameAnalysis } from './analyzer.js';
import {
  distanceToUser,
  emptyHistory,
  identityVerdict,
  livenessCues,
  phoneEvidence,
  pushBounded,
  spoofVerdict,
  type IdentityThresholds,
  type PhoneSettings,
  type SpoofSettings,
  type TrackHistory,
} from './evidence.js';

/**
 * Adaptive analysis, as pure functions over one client's track state: which stages a frame needs, and
 * how one analysis folds into the track and becomes an Observation.
 */

export interface TrackState {
  lastHash?: string;
  /** Main face box of the last analysis; undefined = no face, so the next face starts a track. */
  lastBox?: Box;
  lastIdentityAt: number;
  lastPhonesAt: number;
  lastBurstAt: number;
  history: TrackHistory;
}

export const newTrack = (): TrackState => ({ lastIdentityAt: 0, lastPhonesAt: 0, lastBurstAt: -Infinity, history: emptyHistory() });

export interface TrackSettings {
  identityIntervalMs: number;
  phoneIntervalMs: number;
  jumpIou: number;
  identity: IdentityThresholds;
  spoof: SpoofSettings;
  phone: PhoneSettings;
  burst: { frames: number; fps: number; cooldownMs: number };
  /** How many mesh readings (eye opening, yaw) a track keeps for liveness cues. */
  cueWindow: number;
}

export function trackSettings(c: Config): TrackSettings {
  return {
    identityIntervalMs: c.VISION_IDENTITY_INTERVAL_MS,
    phoneIntervalMs: c.VISION_PHONE_INTERVAL_MS,
    jumpIou: c.VISION_JUMP_IOU,
    identity: { match: c.VISION_MATCH_DISTANCE, nonMatch: Math.max(c.VISION_MATCH_DISTANCE, c.VISION_NONMATCH_DISTANCE) },
    spoof: { spoofBelow: c.VISION_SPOOF_BELOW, liveAbove: c.VISION_LIVE_ABOVE, window: c.VISION_SPOOF_WINDOW },
    phone: { hits: c.VISION_PHONE_HITS, window: c.VISION_PHONE_WINDOW },
    burst: { frames: c.VISION_BURST_FRAMES, fps: c.VISION_BURST_FPS, cooldownMs: c.VISION_BURST_COOLDOWN_MS },
    cueWindow: 12,
  };
}

/** The stages due on this frame; the worker adds identity when the detector shows the box jumped. */
export function planFor(track: TrackState, now: number, s: TrackSettings): AnalysisPlan {
  return {
    identityDue: track.lastBox === undefined || now - track.lastIdentityAt >= s.identityIntervalMs,
    phonesDue: now - track.lastPhonesAt >= s.phoneIntervalMs,
    lastBox: track.lastBox,
    jumpIou: s.jumpIou,
  };
}

/** Reference descriptors of every enrolled user (user -> descriptors of their images). */
export type UserDescriptors = ReadonlyMap<string, readonly (readonly number[])[]>;

export interface FoldInput {
  clientId: string;
  frameSeq: number;
  frameTs: number;
  modelVersion: string;
  now: number;
  result: AnalysisResult;
  users: UserDescriptors;
}

export interface FoldOutput {
  track: TrackState;
  observation: Observation;
  /** Set when the agent should be asked for a burst of frames (new track, or spoof suspected). */
  burst?: { frames: number; fps: number; reason: string };
}

export function foldAnalysis(track: TrackState, input: FoldInput, s: TrackSettings): FoldOutput {
  const { result } = input;
  const base = { clientId: input.clientId, frameSeq: input.frameSeq, frameTs: input.frameTs, analysedAt: input.now, modelVersion: input.modelVersion };
  if (!result.ok) {
    return {
      track,
      observation: { ...base, durationMs: Math.round(result.ms), error: { code: result.code, message: result.message }, faces: [] },
    };
  }
  const a: FrameAnalysis = result.analysis;
  const main = a.faces[0];
  const trackStarts = main !== undefined && track.lastBox === undefined;
  let history = main ? track.history : emptyHistory();
  if (main?.eyeOpen !== undefined) history = { ...history, eyeOpen: pushBounded(history.eyeOpen, main.eyeOpen, s.cueWindow) };
  if (main?.yaw !== undefined) history = { ...history, yaw: pushBounded(history.yaw, main.yaw, s.cueWindow) };

  const observation: Observation = {
    ...base,
    durationMs: Math.round(a.timings.total),
    quality: a.quality,
    faces: a.faces.map((f) => ({ box: f.box, score: f.score })),
    stages: { identity: a.ran.identity, spoof: a.ran.spoof, phones: a.ran.phones },
    timings: { ...a.timings },
  };
  const next: TrackState = { ...track, lastBox: main?.box, history };

  if (a.descriptor) {
    const own = input.users.get(input.clientId);
    const others = [...input.users].filter(([u]) => u !== input.clientId).flatMap(([user, refs]) => {
      const d = distanceToUser(a.descriptor!, refs);
      return d === undefined ? [] : [{ user, distance: d }];
    });
    observation.identity = identityVerdict(own ? distanceToUser(a.descriptor, own) : undefined, others, s.identity);
    next.lastIdentityAt = input.now;
  }
  const cues = livenessCues(next.history);
  if (a.spoof) {
    next.history = { ...next.history, real: pushBounded(next.history.real, a.spoof.real, Math.max(s.spoof.window, 1) * 2) };
    observation.spoof = { ...spoofVerdict(next.history, a.spoof.real, s.spoof, cues), cues };
  }
  if (a.ran.phones) {
    const { observation: phones, hit } = phoneEvidence(next.history, a.phones ?? [], main?.box, s.phone);
    next.history = { ...next.history, phoneHits: pushBounded(next.history.phoneHits, hit, s.phone.window) };
    observation.phones = phones;
    next.lastPhonesAt = input.now;
  }

  let burst: FoldOutput['burst'];
  const suspected = a.spoof !== undefined && a.spoof.real < s.spoof.liveAbove && !cues.blink && !cues.headMotion;
  if (s.burst.frames > 0 && (trackStarts || suspected) && input.now - track.lastBurstAt >= s.burst.cooldownMs) {
    burst = { frames: s.burst.frames, fps: s.burst.fps, reason: trackStarts ? 'track_start' : 'spoof_suspected' };
    next.lastBurstAt = input.now;
  }
  return { track: next, observation, burst };
}
