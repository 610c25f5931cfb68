#!/usr/bin/env node
// Runs the compiled CLI (npm run build; `npm ci` builds it through the prepare script).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('vigil: the CLI is not built yet; run `npm run build` (or `npm ci`) first\n');
  process.exit(1);
}
await import(entry.href);
