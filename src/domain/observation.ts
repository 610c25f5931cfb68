/**
 * What the vision step saw in one analysed frame. The decision policy reads only this type (plus
 * telemetry and history), so it can be built and tested without the models.
 */
export type Box = [x: number, y: number, width: number, height: number];

export interface FaceObservation {
  box: Box;
  /** Detector confidence 0..1. */
  score: number;
}

export type IdentityVerdict =
  /** The face is the client's own enrolled user. */
  | 'match'
  /** The face is another enrolled user. */
  | 'other_user'
  /** The face matches nobody enrolled. */
  | 'unknown'
  /** Between the match and non-match thresholds: not enough to act on. */
  | 'uncertain';

export interface IdentityObservation {
  verdict: IdentityVerdict;
  /** Distance to the client's own enrolled user (lower is closer); absent when the user has no usable reference. */
  distanceToOwn?: number;
  /** The closest other enrolled user, when any is closer than the non-match threshold. */
  nearestOther?: { user: string; distance: number };
}

export interface SpoofObservation {
  /** 0..1, higher = more likely a live face, for this frame alone. */
  realScore: number;
  /** Temporal verdict over the recent analyses of the track: only 'spoof' is acted upon. */
  verdict: 'live' | 'spoof' | 'uncertain';
  /** Liveness cues seen over the track so far (face mesh across analyses / a burst): they veto a spoof verdict. */
  cues?: { blink: boolean; headMotion: boolean };
  /**
   * The feed delivered bit-identical frames for `frozenForMs` (>= VISION_FROZEN_FEED_MS): a live webcam
   * never does (sensor noise), a static injected image or a frozen virtual camera does. Only then is it set,
   * and the verdict is 'spoof'.
   */
  frozenFeed?: boolean;
  frozenForMs?: number;
}

export interface PhoneObservation {
  detections: { box: Box; score: number }[];
  /** True once phone evidence near the face or hands has persisted over several analyses. */
  persistent: boolean;
}

export interface QualityObservation {
  /** Mean luma 0..255. */
  brightness: number;
  /** Variance of the Laplacian; low means blurred. */
  sharpness: number;
  tooDark: boolean;
  tooBright: boolean;
  blurred: boolean;
}

export interface Observation {
  clientId: string;
  /** frame_number of the analysed frame and its arrival time (epoch ms). */
  frameSeq: number;
  frameTs: number;
  analysedAt: number;
  durationMs: number;
  modelVersion: string;
  /** Set when the frame could not be analysed (corrupt image, internal error); the rest is then empty. */
  error?: { code: 'corrupt_image' | 'unsupported_format' | 'internal'; message: string };
  quality?: QualityObservation;
  faces: FaceObservation[];
  /** Present only when identity was checked on this frame (adaptive analysis). */
  identity?: IdentityObservation;
  spoof?: SpoofObservation;
  phones?: PhoneObservation;
  /** Which checks ran on this frame (adaptive analysis) and how long each stage took, ms. */
  stages?: {
    identity: boolean;
    spoof: boolean;
    phones: boolean;
    /** false: nothing moved since the detector's last frame, so its faces were carried forward (motion gate). */
    detector?: boolean;
    /** Phones were due but nothing moved since the last phone check, so that check still holds (no `phones` field). */
    phonesUnchanged?: boolean;
    /** A phones-only follow-up of a frame whose face observation came first (VISION_PHONES_FOLLOW_UP). */
    followUp?: boolean;
  };
  timings?: Record<string, number>;
}
