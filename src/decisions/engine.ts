import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import type { Observation } from '../domain/observation.js';
import type { TelemetryRecord } from '../domain/telemetry.js';
import { clientIdSchema } from '../domain/protocol.js';
import { dataFolders } from '../data/folders.js';
import { decide, type PolicyInput } from './policy.js';
import { loadPolicy, type Policy } from './policyFile.js';
import { HistoryRepository } from './historyRepository.js';
import { buildActionRecord, type ActionRecord } from './actionRecord.js';
import { EvidenceWriter } from './evidence.js';
import { AuditLog } from './audit.js';
import { sweepRetention, type RetentionResult } from './retention.js';

/**
 * The decision step's service: runs the pure policy on each input against the client's history in
 * Redis, commits the new history and the action atomically (so two workers never fire the same
 * decision and any worker continues where another stopped), then writes the evidence, the audit
 * entries and the live event.
 */

export interface DecisionEngineDeps {
  config: Config;
  log: Logger;
  /** The normal connection (scripts defined). */
  redis: VigilRedis;
  keys: Keys;
  /** Overrides POLICY_FILE (tests, benches). */
  policy?: Policy;
  /** Clock (tests). */
  now?: () => number;
}

export interface DecisionEngine {
  readonly policy: Policy;
  /**
   * Decides on one analysed frame. `frame` is the analysed image (JPEG, PNG or WebP) kept as
   * evidence when an action fires. Resolves with the action record, or undefined when nothing fired
   * (including a repeated or older frame: calling again with the same observation is harmless).
   * Rejects only when the history could not be committed (Redis down): nothing was sent then, and
   * the caller may retry.
   */
  onObservation(obs: Observation, frame?: Buffer): Promise<ActionRecord | undefined>;
  /** Decides on one device event (camera, cable, network). Same contract as onObservation. */
  onTelemetry(record: TelemetryRecord): Promise<ActionRecord | undefined>;
  /** One retention pass (EVIDENCE_RETENTION_DAYS). */
  sweepRetention(): Promise<RetentionResult>;
  /** Runs a retention pass now and every RETENTION_INTERVAL_MS until close(). */
  startRetention(): void;
  /** Stops the retention loop and waits for evidence and audit writes in progress. */
  close(): Promise<void>;
  /** Counters since start (metrics, tests). */
  stats(): DecisionStats;
}

export interface DecisionStats {
  inputs: number;
  /** Inputs dropped as repeated or older frames. */
  ignored: number;
  actions: number;
  /** Commits that lost a race with another worker and were retried. */
  conflicts: number;
  evidenceErrors: number;
  /** Actions whose paper trail this engine finished for a worker that stopped. */
  reclaimed: number;
}

/** Commit conflicts only happen when workers race on one client; a handful of retries always suffices. */
const MAX_ATTEMPTS = 20;
/**
 * An action whose evidence and audit entries are still unwritten this long after the decision was
 * abandoned by a worker that stopped; the next input for that client finishes it (without the frame).
 */
export const TRAIL_RECLAIM_MS = 60_000;

export async function createDecisionEngine(deps: DecisionEngineDeps): Promise<DecisionEngine> {
  const { config, log, redis, keys } = deps;
  const now = deps.now ?? Date.now;
  const policy = deps.policy ?? (await loadPolicy(config.POLICY_FILE));
  const folders = dataFolders(config);
  const history = new HistoryRepository(redis, keys, config.HISTORY_TTL_MS);
  const evidence = new EvidenceWriter(folders);
  const audit = new AuditLog(redis, keys, folders.audit, config.AUDIT_MAXLEN);
  const inFlight = new Set<Promise<unknown>>();
  let retentionTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const counters: DecisionStats = { inputs: 0, ignored: 0, actions: 0, conflicts: 0, evidenceErrors: 0, reclaimed: 0 };

  log.info({ policyVersion: policy.version, policyFile: config.POLICY_FILE ?? null }, 'decision policy loaded');

  async function run(input: PolicyInput, frame: Buffer | undefined): Promise<ActionRecord | undefined> {
    const clientId = input.kind === 'observation' ? input.obs.clientId : input.record.clientId;
    const valid = clientIdSchema.safeParse(clientId);
    if (!valid.success) throw new Error(`decisions: invalid client id ${JSON.stringify(clientId)}: ${valid.error.issues[0]?.message}`);

    counters.inputs++;
    let record: ActionRecord | undefined;
    for (let attempt = 1; ; attempt++) {
      const stored = await history.load(clientId);
      if (stored.discarded) log.warn({ clientId, err: stored.discarded }, 'unreadable decision history; starting afresh');
      const at = now();
      const abandoned = attempt === 1 ? stored.trails.filter((r) => at - r.decidedAt > TRAIL_RECLAIM_MS) : [];
      if (abandoned.length) reclaim(clientId, abandoned);
      const result = decide(input, stored.history, policy.config, at);
      if (result.ignored) {
        counters.ignored++;
        return undefined;
      }
      record = result.decision ? buildActionRecord(input, result.decision, policy.version, at) : undefined;
      if (await history.commit(clientId, stored.rev, result.history, record)) {
        if (result.recovered.length) log.debug({ clientId, recovered: result.recovered }, 'conditions recovered');
        if (result.suppressed.length) log.debug({ clientId, suppressed: result.suppressed }, 'steps suppressed by an action in force');
        break;
      }
      counters.conflicts++;
      if (attempt >= MAX_ATTEMPTS) throw new Error(`decisions: could not commit the history of ${clientId} after ${MAX_ATTEMPTS} attempts`);
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
    if (!record) return undefined;
    counters.actions++;
    log.info({ clientId, id: record.id, action: record.actionName, reason: record.reasonName, scores: record.scores }, 'action');
    const finishing = finish(record, frame);
    inFlight.add(finishing);
    try {
      const full = await finishing;
      await history.trailDone(clientId, record.id).catch((err: Error) => log.warn({ clientId, id: record!.id, err: err.message }, 'outbox entry not cleared'));
      return full;
    } finally {
      inFlight.delete(finishing);
    }
  }

  /** Finishes the paper trail of actions whose worker stopped after committing them (claimed one by one). */
  function reclaim(clientId: string, records: ActionRecord[]): void {
    const p = (async () => {
      for (const r of records) {
        if (!(await history.trailDone(clientId, r.id))) continue;
        counters.reclaimed++;
        log.warn({ clientId, id: r.id }, 'finishing the evidence and audit of an action left by a stopped worker');
        await finish(r, undefined, 'the frame was lost: the worker that decided stopped before writing the evidence');
      }
    })().catch((err: Error) => log.error({ clientId, err: err.message }, 'reclaiming abandoned actions failed'));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }

  /**
   * After the commit the action is already queued for the agent; what follows is the paper trail.
   * Each part is tried on its own so a full disk does not cost the audit stream, nor the reverse.
   */
  async function finish(record: ActionRecord, frame: Buffer | undefined, frameNote?: string): Promise<ActionRecord> {
    let full = record;
    try {
      full = await evidence.write(frameNote ? { ...record, evidenceError: frameNote } : record, frame);
    } catch (err) {
      counters.evidenceErrors++;
      full = { ...record, evidenceError: (err as Error).message };
      log.error({ clientId: record.clientId, id: record.id, err: (err as Error).message }, 'evidence not written');
    }
    const names = ['audit stream', 'audit file', 'live event'];
    const results = await Promise.allSettled([audit.toStream(full), audit.toFile(full), audit.publish(full)]);
    results.forEach((r, i) => {
      if (r.status === 'rejected') log.error({ clientId: record.clientId, id: record.id, err: (r.reason as Error).message }, `${names[i]} not written`);
    });
    return full;
  }

  const engine: DecisionEngine = {
    policy,
    onObservation: (obs, frame) => run({ kind: 'observation', obs }, frame),
    onTelemetry: (record) => run({ kind: 'telemetry', record }, undefined),
    async sweepRetention() {
      const result = await sweepRetention(folders, config.EVIDENCE_RETENTION_DAYS, now());
      if (result.evidenceDeleted || result.auditDeleted) log.info(result, 'retention: old evidence and audit files deleted');
      return result;
    },
    startRetention() {
      if (retentionTimer || closed || config.EVIDENCE_RETENTION_DAYS === 0) return;
      const pass = () => {
        const p = engine.sweepRetention().catch((err: Error) => log.error({ err: err.message }, 'retention pass failed'));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      };
      pass();
      retentionTimer = setInterval(pass, config.RETENTION_INTERVAL_MS);
      retentionTimer.unref();
    },
    stats: () => ({ ...counters }),
    async close() {
      closed = true;
      if (retentionTimer) clearInterval(retentionTimer);
      retentionTimer = undefined;
      await Promise.allSettled([...inFlight]);
    },
  };
  return engine;
}
