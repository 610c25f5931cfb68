import { parentPort, workerData } from 'node:worker_threads';
import { FrameAnalyzer } from './analyzer.js';
import { loadVisionModels } from './models.js';
import type { FromWorker, ToWorker, WorkerInit } from './workerProtocol.js';

/**
 * A vision worker thread: one model set, one frame at a time (tfjs-wasm runs one thread per worker,
 * so parallelism comes from several workers, not from concurrency inside one).
 */
const port = parentPort;
if (!port) throw new Error('src/vision/worker is a worker_threads entry, not a module to import');
const send = (m: FromWorker) => port.postMessage(m);

try {
  const models = await loadVisionModels((workerData as WorkerInit).phones);
  const analyzer = new FrameAnalyzer(models, workerData as WorkerInit);
  // Messages are handled one after another: the pool never sends a second job before the first answers.
  let chain = Promise.resolve();
  port.on('message', (msg: ToWorker) => {
    chain = chain.then(async () => {
      if (msg.type !== 'analyze') return;
      const result = await analyzer.analyze(Buffer.from(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength), msg.plan);
      send({ type: 'result', jobId: msg.jobId, result });
    });
  });
  send({ type: 'ready', modelVersion: models.modelVersion });
} catch (err) {
  send({ type: 'fatal', message: (err as Error).message });
}
