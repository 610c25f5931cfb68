import type { Command } from 'commander';
import { startVigil } from '../../app/vigil.js';
import { commandContext, onShutdown } from '../context.js';

export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('run Vigil: agent gateway, admin API and dashboard, state manager, vision workers (starts its own Redis when REDIS_URL is unset)')
    .option('--host <host>', 'address to listen on (HOST)')
    .option('--port <port>', 'port to listen on (PORT)')
    .option('--data-dir <dir>', 'data folder (DATA_DIR)')
    .action(async (opts: { host?: string; port?: string; dataDir?: string }) => {
      const { config, log } = commandContext({ HOST: opts.host, PORT: opts.port, DATA_DIR: opts.dataDir });
      const vigil = await startVigil(config, log);
      onShutdown(() => vigil.stop(), log);
    });
}
