import { loadConfig, type Config, type SettingName } from '../config/index.js';
import { createLogger, type Logger } from '../log.js';

/** Config + logger for a command; flags override the environment and the config file. */
export function commandContext(overrides: Partial<Record<SettingName, unknown>> = {}): { config: Config; log: Logger } {
  const config = loadConfig(process.env, overrides);
  return { config, log: createLogger(config.LOG_LEVEL) };
}

/** Runs until SIGINT/SIGTERM, then stops once (a second signal exits at once). */
export function onShutdown(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    log.info({ signal }, 'stopping');
    stop()
      .then(() => process.exit(0))
      .catch((err: Error) => {
        log.error({ err: err.message }, 'stop failed');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}
