import type { FastifyReply } from 'fastify';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config/index.js';
import type { Keys } from '../redis/keys.js';
import type { VigilRedis } from '../redis/scripts.js';
import { HttpError, storageDown } from './errors.js';

export type LimitName = 'loginIp' | 'loginAccount' | 'enrol' | 'api';

/**
 * Redis-backed limits shared by every Vigil process (rate-limiter-flexible, fixed windows):
 * login per address and per account, enrolment per key (seed 002: 5 per hour), the API in general.
 * Answers carry the IETF draft `RateLimit-*` headers; a refusal is 429 with `Retry-After`.
 */
export class RateLimits {
  private readonly limiters: Record<LimitName, RateLimiterRedis>;

  constructor(redis: VigilRedis, keys: Keys, config: Config) {
    const make = (name: string, points: number, duration: number) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keys.rateLimitPrefix}:${name}`, points, duration, rejectIfRedisNotReady: true });
    this.limiters = {
      loginIp: make('login_ip', config.LOGIN_RATE_PER_IP, 15 * 60),
      loginAccount: make('login_account', config.LOGIN_RATE_PER_ACCOUNT, 15 * 60),
      enrol: make('enrol', config.ENROL_RATE_PER_HOUR, 60 * 60),
      api: make('api', config.API_RATE_PER_MIN, 60),
    };
  }

  /**
   * Takes one point for `key`, sets the headers, and throws 429 when the limit is spent.
   * When Redis cannot answer it throws 503: a limit that cannot be checked is not skipped.
   */
  async consume(name: LimitName, key: string, reply: FastifyReply, doing: string): Promise<void> {
    const limiter = this.limiters[name];
    let res: RateLimiterRes;
    let refused = false;
    try {
      res = await limiter.consume(key);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw storageDown(doing);
      res = err;
      refused = true;
    }
    const resetSec = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    reply.header('RateLimit-Limit', limiter.points);
    reply.header('RateLimit-Remaining', res.remainingPoints);
    reply.header('RateLimit-Reset', resetSec);
    reply.header('RateLimit-Policy', `${limiter.points};w=${limiter.duration}`);
    if (refused) {
      throw new HttpError(429, 'rate_limited', `too many requests: ${doing} is limited to ${limiter.points} per ${describe(limiter.duration)}; retry in ${resetSec} s`, true, {
        'Retry-After': resetSec,
      });
    }
  }

  /** Forgets a key's count (a successful login clears the account's failures). */
  async reset(name: LimitName, key: string): Promise<void> {
    await this.limiters[name].delete(key).catch(() => undefined);
  }
}

function describe(sec: number): string {
  if (sec % 3600 === 0) return sec === 3600 ? 'hour' : `${sec / 3600} hours`;
  if (sec % 60 === 0) return sec === 60 ? 'minute' : `${sec / 60} minutes`;
  return `${sec} seconds`;
}
