/**
 * An error with an HTTP status and a stable code, answered as `{error: {code, message}}`.
 * `expose` lets a 5xx (503 "Redis unavailable") keep its message; other 5xx answers hide details.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly expose = statusCode < 500,
    readonly headers: Record<string, string | number> = {},
  ) {
    super(message);
  }
}

export const unavailable = (what: string): HttpError => new HttpError(503, 'unavailable', `${what} is not available on this server`, true);
export const storageDown = (doing: string): HttpError =>
  new HttpError(503, 'redis_unavailable', `${doing} is unavailable while Redis is unreachable; try again shortly`, true, { 'Retry-After': 5 });
