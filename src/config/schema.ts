import { z } from 'zod';

/**
 * Every setting Vigil reads, with the environment variable that sets it.
 * The config file (VIGIL_CONFIG, JSON or YAML) uses the same names; the environment wins over the file.
 * Nothing else in the code base reads process.env.
 */
const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const boolFrom = z.union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no'])]).transform((v) =>
  typeof v === 'boolean' ? v : ['1', 'true', 'yes'].includes(v),
);

const sentinelList = z
  .string()
  .regex(/^[^\s:,]+:\d{1,5}(,[^\s:,]+:\d{1,5})*$/, 'a comma-separated list of host:port')
  .transform((s) =>
    s.split(',').map((hp) => {
      const i = hp.lastIndexOf(':');
      return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
    }),
  );

export const settings = {
  REDIS_URL: z.string().url().refine((u) => /^rediss?:\/\//.test(u), 'a redis:// or rediss:// URL').optional(),
  REDIS_SENTINELS: sentinelList.optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).default('mymaster'),
  /** Key prefix and Server_Data sub-folder: lets several tenants share one Redis. */
  NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 letters, digits, "_" or "-"')
    .default('vigil'),
  DATA_DIR: z.string().min(1).default('./Data'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: intFrom(0, 65535).default(8080),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  REDIS_CONNECT_TIMEOUT_MS: intFrom(100, 60_000).default(5_000),
  REDIS_COMMAND_TIMEOUT_MS: intFrom(50, 60_000).default(2_000),

  /** Largest frame an agent may send, in bytes. */
  FRAME_MAX_BYTES: intFrom(1_024, 32 * 1024 * 1024).default(2 * 1024 * 1024),
  /** Sustained messages per second one agent may send, and the burst above it. */
  AGENT_RATE_PER_SEC: intFrom(1, 10_000).default(20),
  AGENT_RATE_BURST: intFrom(1, 100_000).default(40),
  HELLO_TIMEOUT_MS: intFrom(100, 120_000).default(5_000),
  /** An action sent but not acked within this time is sent again. */
  ACTION_REDELIVER_MS: intFrom(100, 600_000).default(10_000),

  /** Seed 004: the cleanup loop's period and the silence after which a client is removed. */
  CLEANUP_INTERVAL_MS: intFrom(50, 3_600_000).default(2_000),
  CLIENT_TIMEOUT_MS: intFrom(100, 86_400_000).default(3_000),
} as const;

export type SettingName = keyof typeof settings;

export const configSchema = z.object(settings).strict();

export type Config = z.infer<typeof configSchema>;
