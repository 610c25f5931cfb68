import type { Box, IdentityObservation, PhoneObservation, SpoofObservation } from '../domain/observation.js';

/**
 * Pure functions that turn single-frame model outputs into evidence: identity verdicts, and cues that
 * must hold over several analyses (spoof, phones, blinks, head motion) because one frame is too weak.
 */

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a[0], b[0]);
  const y1 = Math.max(a[1], b[1]);
  const x2 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y2 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

/** True when there was a previous box and the new one overlaps it less than `minIou` (a new face, or the face moved a lot). */
export function boxJumped(previous: Box | undefined, current: Box, minIou: number): boolean {
  return previous !== undefined && iou(previous, current) < minIou;
}

export function euclidean(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** Distance to a user = distance to the closest of that user's reference descriptors. */
export function distanceToUser(descriptor: ArrayLike<number>, references: readonly ArrayLike<number>[]): number | undefined {
  let best: number | undefined;
  for (const r of references) {
    const d = euclidean(descriptor, r);
    if (best === undefined || d < best) best = d;
  }
  return best;
}

export interface IdentityThresholds {
  /** At or below: the same person. */
  match: number;
  /** Above: a different person. Between the two: uncertain. */
  nonMatch: number;
}

/**
 * own vs other enrolled users vs unknown. A face that matches the own user is 'match' even when
 * another user is close too (look-alikes in the database must not lock out the right person), unless
 * the other user is clearly closer and inside the match threshold.
 */
export function identityVerdict(distanceToOwn: number | undefined, others: { user: string; distance: number }[], t: IdentityThresholds): IdentityObservation {
  const nearest = [...others].sort((a, b) => a.distance - b.distance)[0];
  const nearestOther = nearest && nearest.distance <= t.nonMatch ? { user: nearest.user, distance: round(nearest.distance) } : undefined;
  const base = { ...(distanceToOwn !== undefined ? { distanceToOwn: round(distanceToOwn) } : {}), ...(nearestOther ? { nearestOther } : {}) };
  const own = distanceToOwn ?? Infinity;
  const other = nearest?.distance ?? Infinity;
  if (own <= t.match && !(other <= t.match && other < own - 0.05)) return { verdict: 'match', ...base };
  if (other <= t.match) return { verdict: 'other_user', ...base };
  if (own > t.nonMatch && other > t.nonMatch) return { verdict: 'unknown', ...base };
  return { verdict: 'uncertain', ...base };
}

const round = (v: number) => Math.round(v * 1000) / 1000;

/** A bounded history of one face track, kept per client by the scheduler. */
export interface TrackHistory {
  /** Recent antispoof "real" scores of the main face (newest last). */
  real: number[];
  /** Recent phone evidence: true when a phone sat near the face/hands on that phone check. */
  phoneHits: boolean[];
  /** Recent eye openness and yaw of the main face, for blink and head-motion cues. */
  eyeOpen: number[];
  yaw: number[];
}

export const emptyHistory = (): TrackHistory => ({ real: [], phoneHits: [], eyeOpen: [], yaw: [] });

export function pushBounded<T>(list: T[], value: T, max: number): T[] {
  const out = [...list, value];
  return out.length > max ? out.slice(out.length - max) : out;
}

export interface SpoofSettings {
  /** Mean "real" below this over `window` analyses -> spoof; above `liveAbove` -> live. */
  spoofBelow: number;
  liveAbove: number;
  window: number;
}

/**
 * Spoof from several analyses: the single-frame antispoof score separates print/replay only partly
 * (AUC ~0.85), so a verdict needs `window` scores. Liveness over time (a blink or head motion seen in
 * the track) vetoes a spoof verdict: a printed photo does not blink or turn.
 */
export function spoofVerdict(history: TrackHistory, frameReal: number, s: SpoofSettings, liveCues: LivenessCues): SpoofObservation {
  const recent = history.real.slice(-s.window);
  if (recent.length < s.window) return { realScore: frameReal, verdict: 'uncertain' };
  const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
  if (mean < s.spoofBelow && !liveCues.blink && !liveCues.headMotion) return { realScore: frameReal, verdict: 'spoof' };
  if (mean > s.liveAbove || liveCues.blink || liveCues.headMotion) return { realScore: frameReal, verdict: 'live' };
  return { realScore: frameReal, verdict: 'uncertain' };
}

export interface LivenessCues {
  blink: boolean;
  headMotion: boolean;
}

/**
 * Blink: the eye opening dips below `blinkRatio` of the track's median and opens again.
 * Head motion: yaw spans more than `yawSpanDeg` degrees. Both need several mesh readings (a burst).
 */
export function livenessCues(history: TrackHistory, blinkRatio = 0.6, yawSpanDeg = 12): LivenessCues {
  const e = history.eyeOpen;
  let blink = false;
  if (e.length >= 3) {
    const median = [...e].sort((a, b) => a - b)[Math.floor(e.length / 2)]!;
    for (let i = 1; i < e.length - 1 && !blink; i++) {
      if (e[i]! < median * blinkRatio && e.slice(i + 1).some((v) => v >= median * 0.85)) blink = true;
    }
  }
  const y = history.yaw;
  const headMotion = y.length >= 2 && Math.max(...y) - Math.min(...y) > yawSpanDeg;
  return { blink, headMotion };
}

/**
 * A phone counts only near the face or where hands holding it would be: the face box widened by one
 * face width each side and extended two face heights down (phones far away — on a desk, on a poster —
 * are ignored). With no face, any phone counts (someone may be photographing the screen).
 */
export function phoneNearFace(phone: Box, face: Box | undefined): boolean {
  if (!face) return true;
  const [fx, fy, fw, fh] = face;
  const zone: Box = [fx - fw, fy - fh * 0.5, fw * 3, fh * 3.5];
  const cx = phone[0] + phone[2] / 2;
  const cy = phone[1] + phone[3] / 2;
  return cx >= zone[0] && cx <= zone[0] + zone[2] && cy >= zone[1] && cy <= zone[1] + zone[3];
}

export interface PhoneSettings {
  /** Phone checks with a near phone needed among the last `window` checks. */
  hits: number;
  window: number;
}

export function phoneEvidence(history: TrackHistory, detections: { box: Box; score: number }[], face: Box | undefined, s: PhoneSettings): { observation: PhoneObservation; hit: boolean } {
  const near = detections.filter((d) => phoneNearFace(d.box, face));
  const hit = near.length > 0;
  const recent = pushBounded(history.phoneHits, hit, s.window);
  const persistent = hit && recent.filter(Boolean).length >= s.hits;
  return { observation: { detections: near, persistent }, hit };
}
