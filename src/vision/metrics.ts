import { z } from 'zod';

/** Verification metrics over labelled pairs (distance: lower = more alike). */

export interface ScoredPair {
  distance: number;
  same: boolean;
}

export interface VerificationReport {
  pairs: { same: number; different: number; skipped: number };
  atThreshold: { threshold: number; tar: number; far: number };
  tarAtFar1: { tar: number; threshold: number };
  tarAtFar01: { tar: number; threshold: number };
  eer: { rate: number; threshold: number };
  auc: number;
}

/** TAR and FAR when pairs at or below `threshold` are accepted. */
export function rates(pairs: ScoredPair[], threshold: number): { tar: number; far: number } {
  const same = pairs.filter((p) => p.same);
  const diff = pairs.filter((p) => !p.same);
  return {
    tar: same.length ? same.filter((p) => p.distance <= threshold).length / same.length : 0,
    far: diff.length ? diff.filter((p) => p.distance <= threshold).length / diff.length : 0,
  };
}

/**
 * Best TAR with FAR <= maxFar; the threshold returned is the midpoint between the last accepted
 * distance and the first impostor distance that would break the FAR, so it is not overfitted to a
 * single pair's exact value.
 */
export function tarAtFar(pairs: ScoredPair[], maxFar: number): { tar: number; threshold: number } {
  const diff = pairs.filter((p) => !p.same).map((p) => p.distance).sort((a, b) => a - b);
  const allowed = Math.floor(maxFar * diff.length);
  // Accept everything strictly below the (allowed)-th impostor distance.
  const limit = allowed < diff.length ? diff[allowed]! : Infinity;
  const candidates = pairs.map((p) => p.distance).filter((d) => d < limit).sort((a, b) => a - b);
  const lastBelow = candidates.length ? candidates[candidates.length - 1]! : 0;
  const threshold = Number.isFinite(limit) ? (lastBelow + limit) / 2 : lastBelow;
  return { tar: rates(pairs, threshold).tar, threshold };
}

/** Equal error rate: where FAR and FRR (1 - TAR) cross, searched over every distance. */
export function equalErrorRate(pairs: ScoredPair[]): { rate: number; threshold: number } {
  const ds = [...new Set(pairs.map((p) => p.distance))].sort((a, b) => a - b);
  let best = { rate: 1, threshold: 0, gap: Infinity };
  const candidates = [0, ...ds.map((d, i) => (i + 1 < ds.length ? (d + ds[i + 1]!) / 2 : d + 1e-6))];
  for (const t of candidates) {
    const { tar, far } = rates(pairs, t);
    const frr = 1 - tar;
    const gap = Math.abs(frr - far);
    const rate = Math.max(frr, far);
    if (rate < best.rate || (rate === best.rate && gap < best.gap)) best = { rate, threshold: t, gap };
  }
  return { rate: best.rate, threshold: best.threshold };
}

/** Probability that a random same pair is closer than a random different pair. */
export function auc(pairs: ScoredPair[]): number {
  const same = pairs.filter((p) => p.same).map((p) => p.distance);
  const diff = pairs.filter((p) => !p.same).map((p) => p.distance);
  if (!same.length || !diff.length) return 0;
  let wins = 0;
  for (const s of same) for (const d of diff) wins += s < d ? 1 : s === d ? 0.5 : 0;
  return wins / (same.length * diff.length);
}

export function verificationReport(pairs: ScoredPair[], threshold: number, skipped = 0): VerificationReport {
  const r4 = (v: number) => Math.round(v * 10_000) / 10_000;
  const at = rates(pairs, threshold);
  const f1 = tarAtFar(pairs, 0.01);
  const f01 = tarAtFar(pairs, 0.001);
  const eer = equalErrorRate(pairs);
  return {
    pairs: { same: pairs.filter((p) => p.same).length, different: pairs.filter((p) => !p.same).length, skipped },
    atThreshold: { threshold, tar: r4(at.tar), far: r4(at.far) },
    tarAtFar1: { tar: r4(f1.tar), threshold: r4(f1.threshold) },
    tarAtFar01: { tar: r4(f01.tar), threshold: r4(f01.threshold) },
    eer: { rate: r4(eer.rate), threshold: r4(eer.threshold) },
    auc: r4(auc(pairs)),
  };
}

const pairRow = z.object({
  a: z.string().min(1),
  b: z.string().min(1),
  label: z.enum(['same', 'different']),
});
export type PairRow = z.infer<typeof pairRow>;

/** Parses the pairs.tsv format: header `img_a img_b label [reason]`, tab-separated, paths relative to a root. */
export function parsePairs(text: string): PairRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift()?.split('\t') ?? [];
  if (header[0] !== 'img_a' || header[1] !== 'img_b' || header[2] !== 'label') {
    throw new Error('pairs file: the first line must be the header "img_a<TAB>img_b<TAB>label[<TAB>reason]"');
  }
  return lines.map((line, i) => {
    const [a, b, label] = line.split('\t');
    const parsed = pairRow.safeParse({ a, b, label });
    if (!parsed.success) throw new Error(`pairs file line ${i + 2}: expected "img_a<TAB>img_b<TAB>same|different", got ${JSON.stringify(line.slice(0, 120))}`);
    if ([parsed.data.a, parsed.data.b].some((p) => p.startsWith('/') || p.split(/[\\/]/).includes('..'))) {
      throw new Error(`pairs file line ${i + 2}: image paths must be relative to --root and must not contain ".."`);
    }
    return parsed.data;
  });
}
