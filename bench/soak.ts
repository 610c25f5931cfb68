/**
 * `npm run soak`: 10 minutes (SOAK_MS) of scripted violations from a handful of agents against the
 * whole system with the real models, with a Redis restart in the middle. Every violation episode must
 * produce exactly one action (no duplicate), every action decided must reach its agent (none lost),
 * and the audit stream must hold exactly what the agents received. Exits non-zero on a failure.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../src/agent/agentClient.js';
import { startVigil } from '../src/app/vigil.js';
import { demoFrames } from '../src/cli/demoScene.js';
import { loadConfig } from '../src/config/index.js';
import { Reason, reasonName } from '../src/domain/action.js';
import { createLogger } from '../src/log.js';
import { RedisServerProcess } from '../src/redis/embedded.js';

const SOAK_MS = Number(process.env.SOAK_MS ?? 600_000);
const AGENTS = Number(process.env.SOAK_AGENTS ?? 4);

// Episodes end quickly on recovery so each cycle is a fresh episode with exactly one action.
const policy = `
staleAfterMs: 600000
reasons:
  noFace: { clearAfterAnalyses: 1, ladder: [{ action: warning, afterMs: 2000, analyses: 2 }] }
  wrongUser: { enabled: false }
  spoof: { enabled: false }
  phone: { enabled: false }
  severalFaces: { enabled: false }
  poorImage: { enabled: false }
`;

type Step = { kind: 'face' | 'empty'; ms: number } | { kind: 'telemetry'; event: 'camera_detached' | 'camera_attached' };
/** One cycle: present, an empty chair (-> no-face warning), present, camera unplugged and back (-> lock). */
const cycle: Step[] = [
  { kind: 'face', ms: 6_000 },
  { kind: 'empty', ms: 12_000 },
  { kind: 'face', ms: 6_000 },
  { kind: 'telemetry', event: 'camera_detached' },
  { kind: 'face', ms: 3_000 },
  { kind: 'telemetry', event: 'camera_attached' },
];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-soak-'));
  const redisServer = new RedisServerProcess({ dir: join(dir, 'redis') });
  await redisServer.start();
  await writeFile(join(dir, 'policy.yaml'), policy);
  const config = loadConfig({}, { REDIS_URL: redisServer.url, DATA_DIR: join(dir, 'data'), PORT: 0, LOG_LEVEL: 'error', UNENROLLED_CLIENTS: 'allow', POLICY_FILE: join(dir, 'policy.yaml') });
  const vigil = await startVigil(config, createLogger('error'));
  const scene = await demoFrames();
  const face = scene.slice(0, 20);
  const empty = scene.slice(20, 40);
  const ids = Array.from({ length: AGENTS }, (_, i) => `soak-${i + 1}`);
  const tokens = await vigil.tokens.issueMany(ids);
  const wsUrl = `${vigil.url!.replace(/^http/, 'ws')}/v1/agent`;
  const expected = new Map<string, { noFace: number; camera: number }>();
  const received = new Map<string, string[]>();
  const deliveries = new Map<string, number>();
  let stop = false;

  const runAgent = async (id: string) => {
    const agent = new AgentClient({ url: wsUrl, clientId: id, token: tokens[id]!, reconnect: true });
    const counts = { noFace: 0, camera: 0 };
    expected.set(id, counts);
    received.set(id, []);
    agent.on('action', (a) => {
      deliveries.set(a.id, (deliveries.get(a.id) ?? 0) + 1);
      if (deliveries.get(a.id) === 1) received.get(id)!.push(`${a.id} ${reasonName(a.reason)}`);
    });
    agent.start();
    await agent.ready();
    let i = 0;
    while (!stop) {
      for (const step of cycle) {
        if (stop) break;
        if (step.kind === 'telemetry') {
          agent.sendTelemetry(step.event);
          if (step.event === 'camera_detached') counts.camera++;
          continue;
        }
        if (step.kind === 'empty') counts.noFace++;
        const frames = step.kind === 'face' ? face : empty;
        const end = Date.now() + step.ms;
        while (Date.now() < end) {
          agent.sendFrame(frames[i++ % frames.length]);
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    }
    // Let the last actions arrive before closing.
    await new Promise((r) => setTimeout(r, 15_000));
    await agent.stop();
  };

  const started = Date.now();
  const agents = ids.map((id, n) => new Promise((r) => setTimeout(r, n * 1_500)).then(() => runAgent(id)));
  const restart = setTimeout(async () => {
    console.log(`[${Math.round((Date.now() - started) / 1000)} s] restarting redis-server`);
    await redisServer.stop();
    await new Promise((r) => setTimeout(r, 2_000));
    await redisServer.start();
  }, SOAK_MS / 2);
  await new Promise((r) => setTimeout(r, SOAK_MS));
  stop = true;
  clearTimeout(restart);
  await Promise.all(agents);

  // The audit stream holds every action decided; compare with what the agents received.
  const audit = await vigil.redis.redis.xrange(vigil.keys.audit, '-', '+');
  const decided = new Map<string, string[]>();
  for (const [, fields] of audit) {
    const record = JSON.parse(fields[fields.indexOf('record') + 1] ?? '{}') as { id: string; clientId: string; reasonName: string };
    decided.set(record.clientId, [...(decided.get(record.clientId) ?? []), `${record.id} ${record.reasonName}`]);
  }
  let failures = 0;
  console.log(`\n## Soak: ${AGENTS} agents, ${Math.round(SOAK_MS / 1000)} s, Redis restarted at ${Math.round(SOAK_MS / 2000)} s`);
  console.log('| agent | no-face episodes | warnings received | camera episodes | locks received | decided (audit) | received | redelivered |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const id of ids) {
    const got = received.get(id)!;
    const want = expected.get(id)!;
    const warnings = got.filter((g) => g.endsWith(reasonName(Reason.REASON_NO_FACE))).length;
    const locks = got.filter((g) => g.endsWith(reasonName(Reason.REASON_CAMERA_NOT_ATTACH))).length;
    const auditIds = (decided.get(id) ?? []).map((x) => x.split(' ')[0]!);
    const gotIds = got.map((x) => x.split(' ')[0]!);
    const lost = auditIds.filter((a) => !gotIds.includes(a));
    const redelivered = gotIds.filter((g) => (deliveries.get(g) ?? 0) > 1).length;
    console.log(`| ${id} | ${want.noFace} | ${warnings} | ${want.camera} | ${locks} | ${auditIds.length} | ${got.length} | ${redelivered} |`);
    // The last episode may be cut by the end of the run: one missing is not a loss.
    if (warnings > want.noFace || locks > want.camera) (failures++, console.log(`  ${id}: DUPLICATE actions`));
    if (warnings < want.noFace - 1 || locks < want.camera - 1) (failures++, console.log(`  ${id}: MISSING actions`));
    if (lost.length) (failures++, console.log(`  ${id}: ${lost.length} decided actions never reached the agent: ${lost.join(', ')}`));
  }
  console.log(failures ? `soak FAILED (${failures})` : 'soak passed: no duplicate, none lost');
  await vigil.stop();
  await redisServer.stop();
  await rm(dir, { recursive: true, force: true });
  process.exit(failures ? 1 : 0);
}

await main();
