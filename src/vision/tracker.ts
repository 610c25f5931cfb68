import type { Config } from '../config/index.js';
import type { Box, Observation } from '../domain/observation.js';
import type { AnalysisPlan, AnalysisResult, FaceDetail, FrameAnalysis } from './analyzer.js';
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
  /** Faces of the last frame the detector ran on, and its thumbnail (motion gate reference) and time. */
  lastFaces: FaceDetail[];
  /** Detections the mesh rejected on that frame (src/vision/confirm.ts). */
  rejectedFaces: Box[];
  detectRef?: Uint8Array;
  detectRefAt: number;
  /** Thumbnail and time of the last frame the phone detector ran on. */
  phonesRef?: Uint8Array;
  phonesRefAt: number;
  phonesFaces?: Box[];
  /** Until then every frame runs the face mesh, ungated: a requested burst is arriving (blinks, head motion). */
  meshUntil: number;
  /** When the current frame hash was first seen, and when a frozen feed was last reported. */
  hashSince: number;
  frozenReportedAt: number;
}

export const newTrack = (): TrackState => ({
  lastIdentityAt: 0,
  lastPhonesAt: 0,
  lastBurstAt: -Infinity,
  history: emptyHistory(),
  lastFaces: [],
  rejectedFaces: [],
  detectRefAt: 0,
  phonesRefAt: 0,
  meshUntil: 0,
  hashSince: 0,
  frozenReportedAt: -Infinity,
});

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
  /** Motion gate: 0 = off; references older than maxSkipMs are dropped, forcing the stage. */
  motion: { threshold: number; maxSkipMs: number; phonesIgnoreFace: boolean };
  /** Run the mesh on every frame (the pre-gate behaviour) instead of only with identity and bursts. */
  meshEveryFrame: boolean;
  /** The mesh confirms every detection, also one continuing a face it confirmed on the previous detector frame. */
  confirmEveryFrame: boolean;
  /** Bit-identical frames for this long = a frozen or injected feed (0 = off). */
  frozenMs: number;
  /** Phone checks run as a follow-up of the frame's face analysis, after its observation went to the decisions. */
  phonesFollowUp: boolean;
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
    motion: { threshold: c.VISION_MOTION_THRESHOLD, maxSkipMs: c.VISION_MOTION_MAX_SKIP_MS, phonesIgnoreFace: c.VISION_PHONE_IGNORE_FACE_MOTION },
    meshEveryFrame: c.VISION_MESH_EVERY_FRAME,
    confirmEveryFrame: c.VISION_CONFIRM_EVERY_FRAME,
    frozenMs: c.VISION_FROZEN_FEED_MS,
    phonesFollowUp: c.VISION_PHONES_FOLLOW_UP,
  };
}

/** The stages due on this frame; the worker adds identity when the detector shows the box jumped. */
export function planFor(track: TrackState, now: number, s: TrackSettings): AnalysisPlan {
  const burstArriving = now < track.meshUntil;
  const fresh = (ref: Uint8Array | undefined, at: number) => (ref && now - at < s.motion.maxSkipMs ? ref : undefined);
  return {
    identityDue: track.lastBox === undefined || now - track.lastIdentityAt >= s.identityIntervalMs,
    phonesDue: now - track.lastPhonesAt >= s.phoneIntervalMs,
    lastBox: track.lastBox,
    jumpIou: s.jumpIou,
    meshDue: s.meshEveryFrame || burstArriving,
    deferPhones: s.phonesFollowUp,
    ...(track.lastBox !== undefined && !s.confirmEveryFrame ? { confirmed: { faces: track.lastFaces, rejected: track.rejectedFaces } } : {}),
    // Burst frames are never gated: a blink moves too few pixels to pass the gate but is the point of a burst.
    ...(s.motion.threshold > 0 && !burstArriving
      ? {
          motion: {
            threshold: s.motion.threshold,
            detectRef: fresh(track.detectRef, track.detectRefAt),
            phonesRef: fresh(track.phonesRef, track.phonesRefAt),
            lastFaces: track.lastFaces,
            phonesFaces: track.phonesFaces,
            phonesIgnoreFace: s.motion.phonesIgnoreFace,
          },
        }
      : {}),
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
  const detected = a.ran.detector !== false;
  let history = main ? track.history : emptyHistory();
  // Carried-forward faces are not new mesh readings.
  if (detected && main?.eyeOpen !== undefined) history = { ...history, eyeOpen: pushBounded(history.eyeOpen, main.eyeOpen, s.cueWindow) };
  if (detected && main?.yaw !== undefined) history = { ...history, yaw: pushBounded(history.yaw, main.yaw, s.cueWindow) };

  const observation: Observation = {
    ...base,
    durationMs: Math.round(a.timings.total),
    quality: a.quality,
    faces: a.faces.map((f) => ({ box: f.box, score: f.score })),
    stages: { identity: a.ran.identity, spoof: a.ran.spoof, phones: a.ran.phones, detector: detected, phonesUnchanged: a.ran.phonesUnchanged === true, ...(a.ran.followUp ? { followUp: true } : {}) },
    timings: { ...a.timings, ...(a.motion !== undefined ? { motion: a.motion } : {}) },
  };
  const next: TrackState = { ...track, lastBox: main?.box, history };
  if (detected) Object.assign(next, { lastFaces: a.faces, rejectedFaces: a.rejected ?? [], detectRef: a.thumb, detectRefAt: input.now });
  if (a.ran.phones) Object.assign(next, { phonesRef: a.thumb, phonesRefAt: input.now, phonesFaces: a.faces.map((f) => f.box) });
  // Phones were due but the frame is unchanged since the last phone check: that check still holds.
  if (a.ran.phonesUnchanged) next.lastPhonesAt = input.now;

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
    // The agent needs a moment to answer; the burst itself lasts frames / fps seconds.
    next.meshUntil = input.now + (s.burst.frames / s.burst.fps) * 1_000 + 4_000;
  }
  return { track: next, observation, burst };
}

/**
 * A live webcam never delivers bit-identical frames for seconds (sensor noise changes every frame's
 * bytes), so a run of identical frames means a static injected image or a frozen virtual camera.
 * Called for a frame whose hash equals the last one (it is not analysed again): once the run has lasted
 * `frozenMs` it yields an observation carrying the last faces with a 'spoof' verdict marked
 * `frozenFeed`, repeated every `frozenMs` while the feed stays frozen. Nothing when no face is carried.
 */
export function frozenFeedCheck(track: TrackState, input: Omit<FoldInput, 'result' | 'users'>, s: TrackSettings): { track: TrackState; observation?: Observation } {
  const frozenFor = input.now - track.hashSince;
  if (s.frozenMs <= 0 || frozenFor < s.frozenMs || input.now - track.frozenReportedAt < s.frozenMs || track.lastFaces.length === 0) return { track };
  const cues = livenessCues(track.history);
  const observation: Observation = {
    clientId: input.clientId,
    frameSeq: input.frameSeq,
    frameTs: input.frameTs,
    analysedAt: input.now,
    durationMs: 0,
    modelVersion: input.modelVersion,
    faces: track.lastFaces.map((f) => ({ box: f.box, score: f.score })),
    spoof: { realScore: track.history.real.at(-1) ?? 0, verdict: 'spoof', cues, frozenFeed: true, frozenForMs: frozenFor },
    stages: { identity: false, spoof: false, phones: false, detector: false, phonesUnchanged: false },
  };
  return { track: { ...track, frozenReportedAt: input.now }, observation };
}
