import type { Config } from '../config/index.js';
import { analyzerOptions, FrameAnalyzer, type AnalysisResult } from './analyzer.js';
import { loadVisionModels, phoneModelOptions, type VisionModels } from './models.js';

/** The models on this thread, for commands and benchmarks that analyse a few images without the pool. */
export async function createLocalAnalyzer(config: Config): Promise<{ models: VisionModels; analyzer: FrameAnalyzer; describe(bytes: Buffer): Promise<AnalysisResult> }> {
  const models = await loadVisionModels(phoneModelOptions(config));
  const analyzer = new FrameAnalyzer(models, analyzerOptions(config));
  return {
    models,
    analyzer,
    describe: (bytes) => analyzer.analyze(bytes, { identityDue: true, phonesDue: false, jumpIou: config.VISION_JUMP_IOU }),
  };
}
