import type { Command } from 'commander';
import { dataFolders } from '../../data/folders.js';
import { clientIdSchema } from '../../domain/protocol.js';
import { AgentTokenStore } from '../../gateway/tokens.js';
import { commandContext } from '../context.js';

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('agent tokens (only their SHA-256 is stored)');
  token
    .command('issue')
    .description('create or replace the token of each CLIENT and print it (shown once)')
    .argument('<client...>', 'client ids (user names)')
    .option('--json', 'print {"client": "token", ...}')
    .action(async (clients: string[], opts: { json?: boolean }) => {
      const { config } = commandContext();
      const store = new AgentTokenStore(dataFolders(config).serverData);
      for (const id of clients) {
        const parsed = clientIdSchema.safeParse(id);
        if (!parsed.success) throw new Error(`${JSON.stringify(id)}: ${parsed.error.issues[0]!.message}`);
      }
      const issued = await store.issueMany(clients);
      if (opts.json) console.log(JSON.stringify(issued, null, 2));
      else for (const [id, t] of Object.entries(issued)) console.log(clients.length > 1 ? `${id} ${t}` : t);
    });
  token
    .command('revoke')
    .description("delete a client's token; its agent can no longer connect")
    .argument('<client>')
    .action(async (client: string) => {
      const { config } = commandContext();
      const removed = await new AgentTokenStore(dataFolders(config).serverData).revoke(client);
      if (!removed) throw new Error(`${client} has no token`);
      console.log(`revoked the token of ${client}`);
    });
}
