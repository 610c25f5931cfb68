import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * The decision policy's settings: per reason a threshold or two, how long and over how many analyses
 * a condition must hold (grace), and an escalation ladder. Every key has a default (docs/policy.md),
 * so a policy file names only what it changes; unknown keys are refused so a typo never passes
 * silently as "default".
 */

/** Action names as written in a policy file. */
export const ladderActions = ['warning', 'lock_screen', 'sign_out', 'error'] as const;
export type LadderAction = (typeof ladderActions)[number];

const ms = z.number().int().min(0).max(7 * 24 * 3_600_000);
const analyses = z.number().int().min(1).max(10_000);
const unit = z.number().min(0).max(1);

const stepSchema = z
  .object({
    action: z.enum(ladderActions),
    /** How long (ms) the condition must have held, counted from the first analysis that saw it. */
    afterMs: ms,
    /** How many analyses (checks of this condition) must have seen it. */
    analyses: analyses.default(1),
  })
  .strict();
export type LadderStep = z.infer<typeof stepSchema>;

/** Steps must grow: a later rung can never fire before an earlier one. */
const ladder = (steps: z.input<typeof stepSchema>[]) =>
  z
    .array(stepSchema)
    .min(1)
    .max(5)
    .superRefine((list, ctx) => {
      for (let i = 1; i < list.length; i++) {
        const prev = list[i - 1]!;
        const cur = list[i]!;
        if (cur.afterMs < prev.afterMs || cur.analyses < prev.analyses) {
          ctx.addIssue({ code: 'custom', path: [i], message: 'a step that comes no earlier than the step before it (afterMs and analyses must not decrease)' });
        }
      }
    })
    .default(steps.map((s) => stepSchema.parse(s)));

/** How many analyses in a row must not see a condition before it counts as recovered. */
const clearAfter = (n: number) => z.number().int().min(1).max(1_000).default(n);

const visionReason = <T extends z.ZodRawShape>(extra: T, steps: z.input<typeof stepSchema>[], clear = 2) => {
  const shape = z.object({ enabled: z.boolean().default(true), clearAfterAnalyses: clearAfter(clear), ladder: ladder(steps), ...extra }).strict();
  // Every field has a default, so an absent reason is the empty object (zod cannot see that through the generic).
  return shape.prefault({} as z.input<typeof shape>);
};

const telemetryReason = (action: LadderAction) =>
  z
    .object({
      enabled: z.boolean().default(true),
      /** Device events have no duration to grow over: one action when the event arrives. */
      action: z.enum(ladderActions).default(action),
    })
    .strict()
    .prefault({});

export const policySchema = z
  .object({
    /** Free text recorded in every action record next to the policy's content hash. */
    version: z.string().min(1).max(100).default('default'),
    /** A condition not seen for this long starts over (grace and ladder from the start) when it reappears. */
    staleAfterMs: ms.default(60_000),
    /**
     * While an action of a given severity is in force for one condition, another condition's step of
     * the same or lower severity is recorded but not sent (the screen is already locked). Errors are
     * never suppressed and suppress nothing.
     */
    suppressLowerSeverity: z.boolean().default(true),
    reasons: z
      .object({
        noFace: visionReason(
          {
            /** Detections below this score are not counted as a face, nor as proof that nobody is there. */
            minFaceScore: unit.default(0.5),
          },
          [
            { action: 'warning', afterMs: 10_000, analyses: 3 },
            { action: 'lock_screen', afterMs: 45_000, analyses: 5 },
          ],
          // One confident face is enough to say someone is there.
          1,
        ),
        wrongUser: visionReason(
          {
            /** Count a face that matches nobody enrolled ("unknown"), not only another enrolled user. */
            countUnknown: z.boolean().default(true),
            /** When the distance to the own user is known, it must be at least this for the condition to hold. */
            minDistanceToOwn: z.number().min(0).max(10).default(0),
          },
          [
            { action: 'lock_screen', afterMs: 2_000, analyses: 2 },
            { action: 'sign_out', afterMs: 60_000, analyses: 4 },
          ],
        ),
        phone: visionReason(
          {
            /** Act only on the vision side's persistent phone evidence (several analyses near the face or hands). */
            requirePersistent: z.boolean().default(true),
            /** With requirePersistent off: a detection at least this confident counts. */
            minScore: unit.default(0.6),
          },
          [
            { action: 'warning', afterMs: 0, analyses: 1 },
            { action: 'lock_screen', afterMs: 15_000, analyses: 3 },
          ],
        ),
        spoof: visionReason(
          {
            /** Optional: a frame whose live score is below this counts as spoof even without the temporal verdict. */
            realScoreBelow: unit.nullable().default(null),
          },
          [{ action: 'lock_screen', afterMs: 0, analyses: 1 }],
        ),
        severalFaces: visionReason(
          {
            /** Faces at least this confident are counted. */
            minFaceScore: unit.default(0.6),
          },
          [{ action: 'warning', afterMs: 3_000, analyses: 3 }],
        ),
        poorImage: visionReason({}, [{ action: 'warning', afterMs: 20_000, analyses: 5 }], 3),
        analysisError: visionReason({}, [{ action: 'error', afterMs: 0, analyses: 3 }], 1),
        cameraDetached: telemetryReason('lock_screen'),
        cableRemoved: telemetryReason('lock_screen'),
        networkLost: telemetryReason('warning'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type PolicyConfig = z.output<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;
export type VisionReasonKey = 'noFace' | 'wrongUser' | 'phone' | 'spoof' | 'severalFaces' | 'poorImage' | 'analysisError';
export type TelemetryReasonKey = 'cameraDetached' | 'cableRemoved' | 'networkLost';
export type ConditionKey = VisionReasonKey | TelemetryReasonKey;

export class PolicyError extends Error {
  override name = 'PolicyError';
}

/** A loaded policy with the version string every action record carries. */
export interface Policy {
  config: PolicyConfig;
  /** `<version>+<first 12 hex of the SHA-256 of the effective settings>`. */
  version: string;
}

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

/** Validates a policy object; errors name each offending key with its full path. */
export function parsePolicy(data: unknown, source = 'policy'): Policy {
  const result = policySchema.safeParse(data ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const at = formatPath(issue.path);
      if (issue.code === 'unrecognized_keys') {
        return `${issue.keys.map((k) => (at ? `${at}.${k}` : k)).join(', ')}: unknown key (see docs/policy.md)`;
      }
      return `${at || '(top level)'}: ${issue.message.replace(/^Invalid (input|option): /, '')}`;
    });
    throw new PolicyError(`invalid decision policy in ${source}:\n  ${lines.join('\n  ')}`);
  }
  const config = result.data;
  const hash = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 12);
  return { config, version: `${config.version}+${hash}` };
}

export const defaultPolicy: Policy = parsePolicy({}, 'defaults');

/** Reads a JSON (.json) or YAML (anything else) policy file; no path means the defaults. */
export async function loadPolicy(path: string | undefined): Promise<Policy> {
  if (!path) return defaultPolicy;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PolicyError(`POLICY_FILE: cannot read ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new PolicyError(`POLICY_FILE: ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data))) {
    throw new PolicyError(`POLICY_FILE: ${path} must hold an object like {"reasons": {"noFace": {...}}}`);
  }
  return parsePolicy(data, path);
}
