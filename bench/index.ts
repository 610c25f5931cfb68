/**
 * `npm run bench`: prints every performance figure Vigil tracks, each beside its baseline measured
 * in the same run. BENCH_ONLY=gateway,vision,... runs a subset.
 */
import { benchDecisions } from './decisions.js';
import { benchEndToEnd } from './e2e.js';
import { benchGateway } from './gateway.js';
import { benchVision } from './vision.js';

const only = process.env.BENCH_ONLY?.split(',');
const benches: [string, () => Promise<void>][] = [
  ['gateway', benchGateway],
  ['vision', benchVision],
  ['decisions', benchDecisions],
  ['e2e', benchEndToEnd],
];

console.log(`# Vigil bench — ${new Date().toISOString()} — node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
for (const [name, run] of benches) {
  if (only && !only.includes(name)) continue;
  await run();
}
process.exit(0);
