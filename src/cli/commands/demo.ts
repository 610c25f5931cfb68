import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AgentClient } from '../../agent/agentClient.js';
import { loadFrames } from '../../agent/frames.js';
import { startVigil } from '../../app/vigil.js';
import { actionName, reasonName } from '../../domain/action.js';
import { projectRoot } from '../../paths.js';
import { commandContext, onShutdown } from '../context.js';

/** Demo pictures that ship with our dependencies (a newcomer has no other images). */
const demoImages = join(projectRoot, 'node_modules', '@vladmandic', 'face-api', 'demo');
const DEMO_USER = 'demo';

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description('start Vigil on its own Redis with a demo user and a demo agent streaming pictures (what `npm start` runs)')
    .option('--port <port>', 'port to listen on (PORT)')
    .option('--fps <n>', 'frames per second of the demo agent', '1')
    .action(async (opts: { port?: string; fps: string }) => {
      const { config, log } = commandContext({ PORT: opts.port });
      const vigil = await startVigil(config, log);
      if (!vigil.url) throw new Error('the demo needs the gateway role (ROLES)');
      // The demo user's reference picture: the first sample; the others stream as the "webcam".
      const userDir = join(vigil.folders.usersDatabase, DEMO_USER);
      await mkdir(userDir, { recursive: true });
      if (!(await readdir(userDir)).length) await copyFile(join(demoImages, 'sample1.jpg'), join(userDir, 'reference.jpg'));
      const token = await vigil.tokens.issue(DEMO_USER);
      const frames = await Promise.all([1, 2, 3, 4, 5, 6].map(async (n) => (await loadFrames(join(demoImages, `sample${n}.jpg`)))[0]!));
      const agent = new AgentClient({ url: `${vigil.url!.replace(/^http/, 'ws')}/v1/agent`, clientId: DEMO_USER, token, frames, fps: Number(opts.fps) || 1, agentName: 'vigil-demo-agent' });
      agent.on('action', (a) => log.info({ client: DEMO_USER, action: actionName(a.action), reason: reasonName(a.reason) }, 'demo agent received an action'));
      agent.start();
      onShutdown(async () => {
        await agent.stop();
        await vigil.stop();
      }, log);
      const redisHint = vigil.redis.embedded
        ? `redis-cli -p ${vigil.redis.embedded.port} -a '${vigil.redis.embedded.password}' --no-auth-warning HGETALL ${vigil.keys.client(DEMO_USER)}`
        : `redis-cli HGETALL ${vigil.keys.client(DEMO_USER)}`;
      process.stdout.write(
        [
          '',
          'Vigil demo is running.',
          `  health:       ${vigil.url}/health   (framesStored grows every second)`,
          `  demo agent:   client "${DEMO_USER}" streaming ${frames.length} pictures at ${opts.fps} fps`,
          `  latest frame: ${redisHint}`,
          `  data folder:  ${vigil.folders.root}`,
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
    });
}
