import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { io } from '@tensorflow/tfjs';

/**
 * The weight shards a manifest names, read from `dir` into one ArrayBuffer (no fetch: Node cannot read
 * file:// URLs). A large Buffer.concat owns its ArrayBuffer from offset 0, used as is: one copy of the weights.
 */
export function readWeightShards(dir: string, manifest: io.WeightsManifestConfig): ArrayBuffer {
  const all = Buffer.concat(manifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p)))));
  return all.byteOffset === 0 && all.buffer.byteLength === all.byteLength ? (all.buffer as ArrayBuffer) : (all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer);
}
