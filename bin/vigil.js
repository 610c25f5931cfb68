#!/usr/bin/env -S node --initial-heap-size=128
// Runs the compiled CLI (npm run build; `npm ci` builds it through the prepare script).
// --initial-heap-size (a node flag, not allowed in NODE_OPTIONS, so it is on this line and in `npm start`):
// every frame an agent sends arrives in a new ~40 kB socket-read ArrayBuffer, which V8 counts against
// the old-generation limit until the next full GC. With the default small initial heap that limit sits
// ~20 MB above the live heap, so at 1000 agents the gateway ran a mark-compact every ~130 ms; with it,
// full GCs come from V8's fixed 64 MB external-memory step instead (~every 0.9 s at 2000 frames/s).
// bench/gateway.ts reads the flags from this line and gives them to both servers it compares.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('vigil: the CLI is not built yet; run `npm run build` (or `npm ci`) first\n');
  process.exit(1);
}
await import(entry.href);
