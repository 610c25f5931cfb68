import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/paths.js';

/** The node flags `vigil` starts with: those on bin/vigil.js's `#!/usr/bin/env -S node ...` line (e.g. `--initial-heap-size=128`). */
export function vigilNodeFlags(): string[] {
  const shebang = readFileSync(join(projectRoot, 'bin', 'vigil.js'), 'utf8').split('\n', 1)[0]!;
  return /^#!\/usr\/bin\/env -S node(?: (.*))?$/.exec(shebang)?.[1]?.split(' ').filter(Boolean) ?? [];
}
