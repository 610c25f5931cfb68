import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { settings } from '../src/config/schema.js';

function vigil(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'silent', ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('vigil --help lists the commands; unknown commands fail on stderr', () => {
  const help = vigil(['--help']);
  assert.equal(help.code, 0);
  for (const cmd of ['serve', 'demo', 'agent', 'token']) assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`));
  const bad = vigil(['frobnicate']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown command/);
});

test('an invalid setting stops start-up naming the variable and what it expects', () => {
  const r = vigil(['serve'], { PORT: 'eighty', NAMESPACE: 'a/b' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /PORT: expected number/);
  assert.match(r.stderr, /NAMESPACE: expected 1-64 letters/);
  assert.equal(r.stdout, '');
});

test('config file: YAML values load, the environment wins, unknown keys are refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-cfg-'));
  try {
    const file = join(dir, 'vigil.yaml');
    await writeFile(file, 'PORT: 9000\nNAMESPACE: site1\nCLEANUP_INTERVAL_MS: 500\n');
    const c = loadConfig({ VIGIL_CONFIG: file, PORT: '9100' });
    assert.equal(c.PORT, 9100);
    assert.equal(c.NAMESPACE, 'site1');
    assert.equal(c.CLEANUP_INTERVAL_MS, 500);
    await writeFile(file, 'PROT: 9000\n');
    assert.throws(() => loadConfig({ VIGIL_CONFIG: file }), /PROT: not a Vigil setting/);
    await writeFile(file, 'PORT: [1\n');
    assert.throws(() => loadConfig({ VIGIL_CONFIG: file }), /not valid YAML/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every setting is documented in docs/configuration.md', async () => {
  const doc = await readFile('docs/configuration.md', 'utf8');
  const missing = Object.keys(settings).filter((name) => !doc.includes(`\`${name}\``));
  assert.deepEqual(missing, []);
});

test('without redis-server on PATH, serve says how to install it or set REDIS_URL', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-nored-'));
  try {
    const r = vigil(['serve', '--port', '0'], { PATH: '/nonexistent', DATA_DIR: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /redis-server was not found/);
    assert.match(r.stderr, /apt-get install -y redis-server/);
    assert.match(r.stderr, /REDIS_URL=/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('vigil token issue prints a token and stores only its hash', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-tok-'));
  try {
    const r = vigil(['token', 'issue', 'alice'], { DATA_DIR: dir });
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /^vgl_[A-Za-z0-9_-]{40,}$/);
    const stored = await readFile(join(dir, 'Server_Data', 'vigil', 'agent_tokens.json'), 'utf8');
    assert.ok(!stored.includes(token));
    assert.match(stored, /"alice": "[0-9a-f]{64}"/);
    const bad = vigil(['token', 'issue', '../../etc'], { DATA_DIR: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /client id/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
