import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { dataFolders } from '../../data/folders.js';
import { AdminAccountStore, adminNameSchema, passwordSchema } from '../../http/auth/accounts.js';
import { commandContext } from '../context.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks on the terminal without echoing what is typed. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          return resolve(value);
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          return reject(new Error('cancelled'));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function obtainPassword(opts: { password?: string; generate?: boolean }): Promise<{ password: string; generated: boolean }> {
  if (opts.generate) return { password: randomBytes(12).toString('base64url'), generated: true };
  if (opts.password !== undefined) return { password: opts.password, generated: false };
  if (!process.stdin.isTTY) return { password: await readStdin(), generated: false };
  const first = await prompt('Password: ');
  const second = await prompt('Repeat the password: ');
  if (first !== second) throw new Error('the passwords differ');
  return { password: first, generated: false };
}

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('dashboard administrators (scrypt hashes in Server_Data/<namespace>/admins.json)');
  admin
    .command('add')
    .description('create an administrator; the password comes from --password, --generate, standard input or a prompt')
    .argument('<name>', 'login name: 1-64 letters, digits, ".", "_" or "-"')
    .option('--password <password>', 'the password (visible in the shell history: prefer stdin or the prompt)')
    .option('--generate', 'generate a random password and print it')
    .option('--replace', 'set a new password when the administrator exists')
    .action(async (name: string, opts: { password?: string; generate?: boolean; replace?: boolean }) => {
      const parsedName = adminNameSchema.safeParse(name);
      if (!parsedName.success) throw new Error(`${JSON.stringify(name)}: ${parsedName.error.issues[0]!.message}`);
      const { password, generated } = await obtainPassword(opts);
      const parsedPw = passwordSchema.safeParse(password);
      if (!parsedPw.success) throw new Error(`password: ${parsedPw.error.issues[0]!.message}`);
      const { config } = commandContext();
      const store = new AdminAccountStore(dataFolders(config).serverData);
      if (!(await store.add(name, password, { replace: opts.replace }))) throw new Error(`administrator ${name} exists; use --replace to set a new password`);
      console.log(generated ? `administrator ${name} created; password: ${password}` : `administrator ${name} ${opts.replace ? 'saved' : 'created'} (${store.path})`);
    });
  admin
    .command('list')
    .description('list the administrators')
    .action(async () => {
      const { config } = commandContext();
      const list = await new AdminAccountStore(dataFolders(config).serverData).list();
      if (!list.length) console.log('no administrators yet: vigil admin add NAME');
      for (const a of list) console.log(`${a.name}\t${a.createdAt}`);
    });
  admin
    .command('remove')
    .description('delete an administrator (their open sessions end at once)')
    .argument('<name>')
    .action(async (name: string) => {
      const { config } = commandContext();
      if (!(await new AdminAccountStore(dataFolders(config).serverData).remove(name))) throw new Error(`no administrator ${name}`);
      console.log(`removed administrator ${name}`);
    });
}
