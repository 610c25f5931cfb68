import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { AgentClient } from '../../agent/agentClient.js';
import { loadFrames } from '../../agent/frames.js';
import { actionName, reasonName } from '../../domain/action.js';

interface AgentFlags {
  url: string;
  id: string;
  token?: string;
  tokens?: string;
  frames?: string;
  fps: string;
  clients: string;
  duration?: string;
}

const positive = (name: string, value: string, max: number) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`--${name}: expected a number in (0, ${max}], got ${JSON.stringify(value)}`);
  return n;
};

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description('stream frames to Vigil as an agent and print the actions it receives')
    .requiredOption('--id <id>', 'client id (with --clients N: the prefix of ID-1 ... ID-N)')
    .option('--token <token>', 'the client token (vigil token issue ID)')
    .option('--tokens <file>', 'with --clients: JSON {"ID-1": "token", ...} as printed by `vigil token issue --json`')
    .option('--frames <folder|image|video>', 'images (JPEG/PNG/WebP) or a video to stream in a loop')
    .option('--fps <n>', 'frames per second per agent', '1')
    .option('--clients <n>', 'simulate a fleet of N agents', '1')
    .option('--url <url>', 'gateway URL', 'ws://127.0.0.1:8080/v1/agent')
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)')
    .action(async (flags: AgentFlags) => {
      const fps = positive('fps', flags.fps, 1000);
      const count = positive('clients', flags.clients, 100_000);
      const frames = flags.frames ? await loadFrames(flags.frames, fps) : [];
      let tokens: Record<string, string>;
      if (count === 1) {
        if (!flags.token) throw new Error('--token is required (vigil token issue ID prints one)');
        tokens = { [flags.id]: flags.token };
      } else {
        if (!flags.tokens) throw new Error('--tokens FILE is required with --clients (vigil token issue ID-1 ... ID-N --json > FILE)');
        tokens = z.record(z.string(), z.string()).parse(JSON.parse(await readFile(flags.tokens, 'utf8')));
      }
      const agents: AgentClient[] = [];
      for (let i = 1; i <= count; i++) {
        const id = count === 1 ? flags.id : `${flags.id}-${i}`;
        const token = tokens[id];
        if (!token) throw new Error(`no token for ${id} in ${flags.tokens}`);
        const agent = new AgentClient({ url: flags.url, clientId: id, token, frames, fps, reconnect: true });
        agent.on('welcome', () => console.error(`${id}: connected`));
        agent.on('action', (a) => console.log(JSON.stringify({ client: id, id: a.id, action: actionName(a.action), reason: reasonName(a.reason), message: a.message })));
        agent.on('serverError', (e) => console.error(`${id}: server error ${e.code}: ${e.message}`));
        agent.on('close', (c) => console.error(`${id}: disconnected (${c.code}${c.reason ? ` ${c.reason}` : ''})`));
        agents.push(agent.start());
      }
      const stop = async () => {
        await Promise.all(agents.map((a) => a.stop()));
        process.exit(0);
      };
      process.on('SIGINT', () => void stop());
      process.on('SIGTERM', () => void stop());
      if (flags.duration) setTimeout(() => void stop(), positive('duration', flags.duration, 86_400) * 1000);
    });
}
