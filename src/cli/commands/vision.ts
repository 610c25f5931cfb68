import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { dataFolders } from '../../data/folders.js';
import { clientIdSchema } from '../../domain/protocol.js';
import type { Observation } from '../../domain/observation.js';
import { UsersDatabase } from '../../users/database.js';
import { euclidean } from '../../vision/evidence.js';
import { createLocalAnalyzer } from '../../vision/local.js';
import { parsePairs, verificationReport, type ScoredPair, type VerificationReport } from '../../vision/metrics.js';
import { foldAnalysis, newTrack, trackSettings } from '../../vision/tracker.js';
import { commandContext } from '../context.js';

async function readImage(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function summary(file: string, o: Observation): string {
  if (o.error) return `${file}: ERROR ${o.error.code}: ${o.error.message}`;
  const parts = [`${o.faces.length} face${o.faces.length === 1 ? '' : 's'}`];
  const q = o.quality;
  if (q) parts.push(`brightness ${q.brightness}, sharpness ${q.sharpness}${q.tooDark ? ' TOO DARK' : ''}${q.tooBright ? ' TOO BRIGHT' : ''}${q.blurred ? ' BLURRED' : ''}`);
  if (o.identity) {
    const i = o.identity;
    parts.push(`identity ${i.verdict}${i.distanceToOwn !== undefined ? ` (own ${i.distanceToOwn})` : ''}${i.nearestOther ? ` (nearest other ${i.nearestOther.user} ${i.nearestOther.distance})` : ''}`);
  }
  if (o.spoof) parts.push(`antispoof real ${o.spoof.realScore} (one frame)`);
  if (o.phones) parts.push(`phones ${o.phones.detections.length ? o.phones.detections.map((d) => d.score).join(', ') : 'none'}`);
  parts.push(`${o.durationMs} ms`);
  return `${file}: ${parts.join('; ')}`;
}

function printReport(r: VerificationReport): void {
  const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
  console.log(`pairs: ${r.pairs.same} same, ${r.pairs.different} different${r.pairs.skipped ? `, ${r.pairs.skipped} skipped (no face in an image)` : ''}`);
  console.log(`at the shipped threshold ${r.atThreshold.threshold}: TAR ${pct(r.atThreshold.tar)}, FAR ${pct(r.atThreshold.far)}`);
  console.log(`TAR at FAR 1 %:   ${pct(r.tarAtFar1.tar)} (threshold ${r.tarAtFar1.threshold})`);
  console.log(`TAR at FAR 0.1 %: ${pct(r.tarAtFar01.tar)} (threshold ${r.tarAtFar01.threshold})`);
  console.log(`EER: ${pct(r.eer.rate)} at threshold ${r.eer.threshold} (the threshold this set would choose)`);
  console.log(`AUC: ${r.auc}`);
}

export function registerVisionCommands(program: Command): void {
  program
    .command('analyze')
    .description('analyse images with the vision models and print the observations')
    .argument('<image...>', 'JPEG, PNG or WebP files')
    .option('--user <user>', "compare faces with this enrolled user's reference images")
    .option('--json', 'print one JSON observation per line')
    .action(async (images: string[], opts: { user?: string; json?: boolean }) => {
      const { config, log } = commandContext();
      const user = opts.user === undefined ? undefined : clientIdSchema.parse(opts.user);
      const local = await createLocalAnalyzer(config);
      const users = new UsersDatabase({ dir: dataFolders(config).usersDatabase, describe: local.describe, modelVersion: local.models.modelVersion, log });
      const descriptors = await users.descriptors();
      if (user && !descriptors.has(user)) throw new Error(`user ${user} is not enrolled (no folder ${join(dataFolders(config).usersDatabase, user)})`);
      const settings = trackSettings(config);
      let failed = false;
      for (const file of images) {
        const bytes = await readImage(file);
        const result = await local.analyzer.analyze(bytes, { identityDue: true, phonesDue: true, jumpIou: settings.jumpIou });
        const { observation } = foldAnalysis(newTrack(), { clientId: user ?? '-', frameSeq: 0, frameTs: Date.now(), modelVersion: local.models.modelVersion, now: Date.now(), result, users: descriptors }, settings);
        if (observation.error) failed = true;
        if (opts.json) console.log(JSON.stringify({ file, ...observation }));
        else console.log(summary(file, observation));
      }
      if (failed) process.exitCode = 1;
    });

  program
    .command('eval')
    .description('verification accuracy on a labelled pair list (format of pairs.tsv): TAR/FAR, TAR at FAR 1 % and 0.1 %, EER')
    .requiredOption('--pairs <file>', 'tab-separated: img_a, img_b, same|different[, reason], with a header line')
    .requiredOption('--root <dir>', 'folder the image paths are relative to')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { pairs: string; root: string; json?: boolean }) => {
      const { config } = commandContext();
      const rows = parsePairs(await readImage(opts.pairs).then((b) => b.toString('utf8')));
      const local = await createLocalAnalyzer(config);
      const root = resolve(opts.root);
      const descriptors = new Map<string, number[] | undefined>();
      for (const path of new Set(rows.flatMap((r) => [r.a, r.b]))) {
        const result = await local.describe(await readImage(join(root, path)));
        if (!result.ok) process.stderr.write(`${path}: ${result.code}: ${result.message}\n`);
        else if (!result.analysis.descriptor) process.stderr.write(`${path}: no face found\n`);
        descriptors.set(path, result.ok ? result.analysis.descriptor : undefined);
      }
      const scored: ScoredPair[] = [];
      let skipped = 0;
      for (const r of rows) {
        const a = descriptors.get(r.a);
        const b = descriptors.get(r.b);
        if (!a || !b) skipped++;
        else scored.push({ distance: euclidean(a, b), same: r.label === 'same' });
      }
      if (!scored.some((p) => p.same) || !scored.some((p) => !p.same)) throw new Error('the pair list needs at least one usable same pair and one usable different pair');
      const report = verificationReport(scored, config.VISION_MATCH_DISTANCE, skipped);
      if (opts.json) console.log(JSON.stringify(report, null, 2));
      else printReport(report);
    });

  program
    .command('enrol')
    .description("add reference images to a user's folder in the users database; each must show exactly one usable face")
    .argument('<user>', 'user name (= client id)')
    .argument('<image...>', 'JPEG, PNG or WebP files')
    .action(async (user: string, images: string[]) => {
      const { config, log } = commandContext();
      const parsed = clientIdSchema.safeParse(user);
      if (!parsed.success) throw new Error(`invalid user name ${JSON.stringify(user)}: ${parsed.error.issues[0]!.message}`);
      const inputs = await Promise.all(images.map(async (f) => ({ name: f, bytes: await readImage(f) })));
      const local = await createLocalAnalyzer(config);
      const db = new UsersDatabase({ dir: dataFolders(config).usersDatabase, describe: local.describe, modelVersion: local.models.modelVersion, log });
      const { accepted, refused } = await db.enrolUser(parsed.data, inputs);
      for (const a of accepted) console.log(`accepted ${a.name} -> ${a.file}`);
      for (const r of refused) process.stderr.write(`refused ${basename(r.name)}: ${r.reason}\n`);
      if (refused.length) process.exitCode = 1;
    });
}
