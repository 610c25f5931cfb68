import type { Box } from '../domain/observation.js';
import { iou } from './evidence.js';

/**
 * The face mesh confirms the detector's faces (VISION_CONFIRM_FACES) at ~8 ms a frame on top of the
 * detector's ~26. A detection that sits where the mesh confirmed a face on the client's previous detector
 * frame is the same face, still there: it keeps that verdict, and so does one where the mesh rejected a
 * detection. Only a detection with no such predecessor costs a mesh pass.
 */

/** What the mesh said on the client's previous detector frame. */
export interface MeshVerdicts {
  faces: readonly { box: Box; score: number }[];
  rejected: readonly Box[];
}

/**
 * Overlap from which a detection continues a face of the previous detector frame. Measured: the detector's
 * box and the mesh's box of the same face overlap 0.86–0.97 (31 clip frames, 20 face photos); a face moves
 * ~0.1–0.2 of its width between frames a second apart.
 */
export const CONTINUES_IOU = 0.5;

export type CarriedVerdict = { face: true; score: number } | { face: false };

/** Each detection's carried verdict, or undefined when any detection is new (the mesh must look at the frame). */
export function carryVerdicts(detections: readonly Box[], previous: MeshVerdicts): CarriedVerdict[] | undefined {
  const verdicts: CarriedVerdict[] = [];
  for (const box of detections) {
    const face = best(box, previous.faces.map((f) => f.box));
    const rejected = best(box, previous.rejected);
    if (face.overlap >= CONTINUES_IOU && face.overlap >= rejected.overlap) verdicts.push({ face: true, score: previous.faces[face.index]!.score });
    else if (rejected.overlap >= CONTINUES_IOU) verdicts.push({ face: false });
    else return undefined;
  }
  return verdicts;
}

/** Detections that no face of the mesh's answer overlaps: the ones it rejected. */
export function rejectedBy(detections: readonly Box[], meshFaces: readonly Box[]): Box[] {
  return detections.filter((box) => best(box, meshFaces).overlap < CONTINUES_IOU);
}

/** Most rejected detections a client keeps. */
const MAX_REJECTED = 8;

/**
 * The rejections to remember after this frame: its own, then earlier ones it did not see again. The
 * detector's weak background faces flicker (seen on about every other frame), so a rejection is kept while
 * it is unseen; a frame where the mesh runs alone (identity, every few seconds) starts the list afresh.
 */
export function rememberRejected(rejectedNow: readonly Box[], detections: readonly Box[], previous: readonly Box[]): Box[] {
  return [...rejectedNow, ...previous.filter((box) => best(box, detections).overlap < CONTINUES_IOU)].slice(0, MAX_REJECTED);
}

function best(box: Box, candidates: readonly Box[]): { index: number; overlap: number } {
  let index = -1;
  let overlap = 0;
  candidates.forEach((c, i) => {
    const o = iou(box, c);
    if (o > overlap) [index, overlap] = [i, o];
  });
  return { index, overlap };
}
