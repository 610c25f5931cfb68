import { existsSync, writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from '../../src/vision/workerProtocol.js';
import { fakeAnalysis } from './fixtures.js';

/**
 * A stand-in vision worker for scheduler tests (no models): the frame's text says what to do.
 * "SLOW:<ms>:<anything>" answers after <ms>; "CRASH" exits; "CRASHONCE:<file>" exits unless <file>
 * exists (and creates it first); "HANG" never answers.
 */
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
port.on('message', (msg: ToWorker) => {
  const text = Buffer.from(msg.bytes).toString('utf8');
  if (text === 'CRASH') process.exit(3);
  if (text === 'HANG') return;
  if (text.startsWith('CRASHONCE:')) {
    const file = text.slice('CRASHONCE:'.length);
    if (!existsSync(file)) {
      writeFileSync(file, 'x');
      process.exit(4);
    }
  }
  const ms = text.startsWith('SLOW:') ? Number(text.split(':')[1]) : 1;
  setTimeout(() => {
    send({
      type: 'result',
      jobId: msg.jobId,
      result: fakeAnalysis({
        descriptor: msg.plan.identityDue ? Array.from({ length: 128 }, () => 0) : undefined,
        spoof: msg.plan.identityDue ? { real: 0.9, live: 0.9 } : undefined,
        phones: msg.plan.phonesDue ? [] : undefined,
        ran: { identity: msg.plan.identityDue, spoof: msg.plan.identityDue, phones: msg.plan.phonesDue },
        timings: { decode: 0, quality: 0, detect: ms, phones: 0, spoof: 0, landmarks: 0, descriptor: 0, total: ms, model: ms },
      }),
    });
  }, ms);
});
send({ type: 'ready', modelVersion: 'fake@1' });
