import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, settings, type Config, type SettingName } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Source = Record<string, unknown>;

/** Reads the optional config file named by VIGIL_CONFIG: a JSON or YAML object keyed by setting name. */
function readConfigFile(path: string): Source {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`VIGIL_CONFIG: cannot read ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`VIGIL_CONFIG: ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`VIGIL_CONFIG: ${path} must hold an object of settings, like {"PORT": 8080}`);
  }
  return data as Source;
}

/**
 * Builds the one validated configuration from the environment, an optional config file and
 * explicit overrides (command-line flags, tests). Unknown names in the file are refused; an invalid
 * value stops start-up with the variable's name and what it expects.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<SettingName, unknown>> = {}): Config {
  const file = env.VIGIL_CONFIG ? readConfigFile(env.VIGIL_CONFIG) : {};
  const origin = new Map<string, string>();
  const merged: Source = {};
  for (const [key, value] of Object.entries(file)) {
    merged[key] = value;
    origin.set(key, `${key} in ${env.VIGIL_CONFIG}`);
  }
  for (const name of Object.keys(settings)) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      merged[name] = value;
      origin.set(name, name);
    }
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) {
      merged[key] = value;
      origin.set(key, key);
    }
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return `${issue.keys.join(', ')}: not a Vigil setting (see docs/configuration.md)`;
      }
      const key = String(issue.path[0] ?? '');
      const shown = merged[key] === undefined ? '' : ` (got ${JSON.stringify(merged[key])})`;
      return `${origin.get(key) ?? key}: expected ${describe(issue)}${shown}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return result.data;
}

function describe(issue: z.core.$ZodIssue): string {
  return issue.message.replace(/^Invalid input: /, '').replace(/^Too (big|small): /, '').replace(/^expected /, '');
}
