import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AgentClient } from '../../agent/agentClient.js';
import { dataFolders, writeFileAtomic } from '../../data/folders.js';
import { AdminAccountStore } from '../../http/auth/accounts.js';
import { startVigil } from '../../app/vigil.js';
import { actionName, reasonName } from '../../domain/action.js';
import { demoFrames, demoReference } from '../demoScene.js';
import { commandContext, onShutdown } from '../context.js';

const DEMO_USER = 'demo';

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description('start Vigil on its own Redis with a demo user and a demo agent streaming pictures (what `npm start` runs)')
    .option('--port <port>', 'port to listen on (PORT)')
    .option('--fps <n>', 'frames per second of the demo agent', '1')
    .action(async (opts: { port?: string; fps: string }) => {
      const { config, log } = commandContext({ PORT: opts.port });
      // Before the server starts, so the dashboard never runs without an administrator.
      const password = await new AdminAccountStore(dataFolders(config).serverData).ensureAdmin('admin');
      const vigil = await startVigil(config, log);
      if (!vigil.url) throw new Error('the demo needs the gateway role (ROLES)');
      const userDir = join(vigil.folders.usersDatabase, DEMO_USER);
      await mkdir(userDir, { recursive: true });
      if (!(await readdir(userDir)).length) {
        await writeFileAtomic(join(userDir, 'reference.jpg'), await demoReference());
        await vigil.vision?.users?.refresh();
      }
      const token = await vigil.tokens.issue(DEMO_USER);
      const frames = await demoFrames();
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
          `  dashboard:    ${vigil.url}/   user admin, password ${password ?? '(unchanged: the admin account already existed)'}`,
          `  health:       ${vigil.url}/health   (framesStored grows every second)`,
          `  demo agent:   client "${DEMO_USER}" streaming a ${frames.length}-frame scene at ${opts.fps} fps:`,
          '                the user, an empty chair (a no-face warning), the user, a stranger (a wrong-user lock)',
          `  evidence:     ${vigil.folders.actions}`,
          `  latest frame: ${redisHint}`,
          `  data folder:  ${vigil.folders.root}`,
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
    });
}
