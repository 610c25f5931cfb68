/**
 * The server side of the gateway bench, run as a child process so its CPU time is its own.
 * argv: vigil|baseline REDIS_URL NAMESPACE DATA_DIR
 * Prints one line `READY <port>` on stdout once listening.
 *
 * `baseline` stores frames the way seed 004 does: the frame arrives base64 in a JSON message, then
 * HSET image:{id} (data, size, format, timestamp, frame_number) and HSET client:{id} last_seen, one
 * awaited command after the other.
 */
import Fastify from 'fastify';
import websocket from '@fastify/websocket';
import { Redis } from 'ioredis';
import { startVigil } from '../src/app/vigil.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/log.js';

const [mode, redisUrl, namespace, dataDir] = process.argv.slice(2) as [string, string, string, string];
// The bench stops the server with SIGTERM; exiting normally lets --cpu-prof write its profile.
let beforeExit = async (): Promise<void> => {};
process.on('SIGTERM', () => void beforeExit().finally(() => process.exit(0)));

if (process.env.BENCH_ALLOC_PROFILE) {
  // Debug: a sampling profile of every allocation (collected ones included), written on SIGTERM.
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  await post('HeapProfiler.enable');
  // Started by the bench (SIGUSR2) once every agent is connected, so the profile shows the frame path.
  process.on('SIGUSR2', () => void post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }));
  beforeExit = async () => {
    const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
    writeFileSync(`${process.env.BENCH_ALLOC_PROFILE}-${mode}.heapprofile`, JSON.stringify(profile));
  };
}

if (process.env.BENCH_STALLS) {
  // Debug: every GC pause and every event-loop stall over 5 ms, on stderr with a timestamp.
  const { PerformanceObserver, performance: perf } = await import('node:perf_hooks');
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.duration > 3) process.stderr.write(`[${mode}] gc ${(e.detail as { kind?: number } | undefined)?.kind} at ${e.startTime.toFixed(0)} took ${e.duration.toFixed(1)} ms\n`);
  }).observe({ entryTypes: ['gc'] });
  let last = perf.now();
  setInterval(() => {
    const now = perf.now();
    if (now - last > 6) process.stderr.write(`[${mode}] loop stall at ${last.toFixed(0)} for ${(now - last).toFixed(1)} ms\n`);
    last = now;
  }, 1).unref();
}

if (mode === 'vigil') {
  const config = loadConfig({}, {
    REDIS_URL: redisUrl,
    NAMESPACE: namespace,
    DATA_DIR: dataDir,
    PORT: 0,
    LOG_LEVEL: 'error',
    AGENT_RATE_PER_SEC: 10_000,
    AGENT_RATE_BURST: 10_000,
    // Agents in the bench only send frames; keep them registered while the load steps change.
    CLIENT_TIMEOUT_MS: 600_000,
    ROLES: 'gateway',
    // Bench agents are not enrolled users.
    UNENROLLED_CLIENTS: 'allow',
  });
  process.on('SIGINT', () => void vigil.stop().then(() => process.exit(0)));
  const vigil = await startVigil(config, createLogger('error'));
  process.stdout.write(`READY ${new URL(vigil.url!).port}\n`);
} else {
  const redis = new Redis(redisUrl);
  redis.on('error', () => {});
  const app = Fastify();
  await app.register(websocket, { options: { maxPayload: 16 * 1024 * 1024 } });
  app.get('/v1/agent', { websocket: true }, (socket) => {
    let clientId = '';
    let frameNumber = 0;
    socket.on('message', async (raw) => {
      const parseStart = performance.now();
      const msg = JSON.parse(raw.toString()) as { type: string; client?: string; data?: string; n?: number };
      if (msg.type === 'hello') {
        clientId = msg.client ?? '';
        await redis.sadd(`${namespace}:clients`, clientId);
        await redis.hset(`${namespace}:client:${clientId}`, { connected_at: new Date().toISOString(), last_seen: new Date().toISOString(), status: 'connected' });
        socket.send(JSON.stringify({ type: 'welcome' }));
        return;
      }
      if (msg.type === 'frame' && msg.data) {
        const received = parseStart;
        const size = Buffer.from(msg.data, 'base64').length;
        const now = new Date().toISOString();
        await redis.hset(`${namespace}:image:${clientId}`, { data: msg.data, size, format: 'jpeg', timestamp: now, frame_number: ++frameNumber });
        await redis.hset(`${namespace}:client:${clientId}`, 'last_seen', now);
        socket.send(JSON.stringify({ type: 'stored', n: msg.n, seq: frameNumber, ms: performance.now() - received }));
      }
    });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.stdout.write(`READY ${typeof address === 'object' && address ? address.port : 0}\n`);
}
