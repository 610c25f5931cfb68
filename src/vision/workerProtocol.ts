import type { AnalysisPlan, AnalysisResult, AnalyzerOptions } from './analyzer.js';

/** Messages between the pool (main thread) and a vision worker thread. */
export type ToWorker = { type: 'analyze'; jobId: number; bytes: Uint8Array; plan: AnalysisPlan };

export type FromWorker =
  | { type: 'ready'; modelVersion: string }
  /** Models could not load: the pool stops start-up with this message. */
  | { type: 'fatal'; message: string }
  | { type: 'result'; jobId: number; result: AnalysisResult };

export type WorkerInit = AnalyzerOptions;
