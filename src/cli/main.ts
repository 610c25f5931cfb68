import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.js';
import { registerAdminCommands } from './commands/admin.js';
import { registerAgentCommands } from './commands/agent.js';
import { registerClientsCommands } from './commands/clients.js';
import { registerDemoCommands } from './commands/demo.js';
import { registerServeCommands } from './commands/serve.js';
import { registerTokenCommands } from './commands/token.js';
import { registerVisionCommands } from './commands/vision.js';

const program = new Command('vigil')
  .description('Vigil keeps watch over webcam-equipped workstations.')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerServeCommands(program);
registerDemoCommands(program);
registerAdminCommands(program);
registerAgentCommands(program);
registerClientsCommands(program);
registerTokenCommands(program);
registerVisionCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const message = err instanceof ConfigError ? err.message : `vigil: ${(err as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
