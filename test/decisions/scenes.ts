import type { Box, Observation } from '../../src/domain/observation.js';

/**
 * Builds Observations from scripted scenes, the way the adaptive vision step would report them:
 * faces on every frame, identity and spoof only when a face track starts and then every few
 * frames, phones every few frames with `persistent` once seen on two checks in a row. Used by the
 * policy and engine tests, and meant for the end-to-end test (enrolled user -> nobody -> another
 * enrolled person -> a photo of the user -> a phone) to state what each scene should produce.
 */

export type SceneName =
  /** The client's own user, live. */
  | 'user'
  /** Empty chair, good light. */
  | 'nobody'
  /** Another enrolled user. */
  | 'other_user'
  /** Someone not enrolled. */
  | 'stranger'
  /** A printed or on-screen photo of the user: matches, but not live. */
  | 'photo_of_user'
  /** The user holding a phone up. */
  | 'phone'
  /** The user and someone behind them. */
  | 'two_people'
  /** Too dark to see anything. */
  | 'dark'
  /** The identity check could not decide. */
  | 'uncertain'
  /** An unreadable frame. */
  | 'corrupt';

export interface SceneStep {
  scene: SceneName;
  /** How long the scene lasts; one frame per `frameMs`. */
  seconds: number;
}

export interface ScriptOptions {
  clientId?: string;
  startMs?: number;
  frameMs?: number;
  /** Identity/spoof re-check period in frames (besides each new face track). */
  identityEvery?: number;
  /** Phone check period in frames. */
  phoneEvery?: number;
  modelVersion?: string;
}

const faceBox: Box = [200, 120, 180, 220];
const otherBox: Box = [460, 140, 120, 150];

export function baseObservation(clientId: string, frameSeq: number, frameTs: number, modelVersion = 'test-models-1'): Observation {
  return {
    clientId,
    frameSeq,
    frameTs,
    analysedAt: frameTs + 40,
    durationMs: 40,
    modelVersion,
    quality: { brightness: 120, sharpness: 300, tooDark: false, tooBright: false, blurred: false },
    faces: [],
  };
}

/** Yields one observation per frame of the script, with `now` = the frame's time. */
export function* scriptObservations(steps: SceneStep[], opts: ScriptOptions = {}): Generator<{ obs: Observation; scene: SceneName; now: number }> {
  const clientId = opts.clientId ?? 'alice';
  const frameMs = opts.frameMs ?? 1_000;
  const identityEvery = opts.identityEvery ?? 3;
  const phoneEvery = opts.phoneEvery ?? 3;
  let t = opts.startMs ?? Date.UTC(2026, 10, 22, 9, 0, 0);
  let seq = 0;
  let trackAge = 0;
  let phoneChecksInRow = 0;
  let lastScene: SceneName | undefined;
  for (const step of steps) {
    const frames = Math.max(1, Math.round((step.seconds * 1_000) / frameMs));
    for (let i = 0; i < frames; i++) {
      seq++;
      const obs = baseObservation(clientId, seq, t, opts.modelVersion);
      const s = step.scene;
      // A new scene with a face is a new face track: identity is checked at once.
      if (s !== lastScene) trackAge = 0;
      lastScene = s;
      const hasFace = s !== 'nobody' && s !== 'dark' && s !== 'corrupt';
      if (s === 'corrupt') {
        obs.error = { code: 'corrupt_image', message: 'scripted corrupt frame' };
        obs.quality = undefined;
      } else if (s === 'dark') {
        obs.quality = { brightness: 8, sharpness: 20, tooDark: true, tooBright: false, blurred: true };
      }
      if (hasFace) {
        obs.faces = [{ box: faceBox, score: 0.93 }];
        if (s === 'two_people') obs.faces.push({ box: otherBox, score: 0.88 });
        if (trackAge % identityEvery === 0) {
          obs.identity =
            s === 'other_user'
              ? { verdict: 'other_user', distanceToOwn: 0.82, nearestOther: { user: 'bob', distance: 0.31 } }
              : s === 'stranger'
                ? { verdict: 'unknown', distanceToOwn: 0.79 }
                : s === 'uncertain'
                  ? { verdict: 'uncertain', distanceToOwn: 0.52 }
                  : { verdict: 'match', distanceToOwn: 0.28 };
          obs.spoof = s === 'photo_of_user' ? { realScore: 0.12, verdict: 'spoof' } : { realScore: 0.91, verdict: 'live' };
        }
        trackAge++;
      }
      if (s !== 'corrupt' && seq % phoneEvery === 0) {
        const phone = s === 'phone';
        phoneChecksInRow = phone ? phoneChecksInRow + 1 : 0;
        obs.phones = phone
          ? { detections: [{ box: [300, 300, 60, 110], score: 0.81 }], persistent: phoneChecksInRow >= 2 }
          : { detections: [], persistent: false };
      }
      yield { obs, scene: s, now: t };
      t += frameMs;
    }
  }
}
