export { loadConfig, ConfigError } from './load.js';
export type { Config, SettingName } from './schema.js';
