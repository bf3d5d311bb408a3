/**
 * The retries the gateway's contract asks callers for (README "The gateway", docs/reliability.md):
 * - `503` always comes with `Retry-After` and means nothing was done (intake: the run could not be stored), so any
 *   request may be sent again after that long;
 * - a refused connection (the gateway restarting, between its stop and its start) means nothing was received, so
 *   any request may be sent again;
 * - any other failure after the request went out (a reset or closed connection, a 502/504 from a proxy) leaves the
 *   outcome unknown: only a request that is safe to repeat is sent again (see {@link isRepeatable}).
 */

/** How requests are retried; every field has a default (see {@link DEFAULT_RETRY}). */
export interface RetryOptions {
  /** Most attempts per request, the first included (1 = no retry). */
  attempts?: number;
  /** First backoff after a connection failure; it doubles each time, with jitter. */
  baseDelayMs?: number;
  /** Largest backoff after a connection failure (a `Retry-After` is honoured as it is, within the budget). */
  maxDelayMs?: number;
  /** Budget of one request, its retries and waits included: no retry starts past it. */
  timeoutMs?: number;
  /** Told of each retry before its wait (to log or count them). */
  onRetry?: (retry: RetryInfo) => void;
}

/** What {@link RetryOptions.onRetry} is told. */
export interface RetryInfo {
  method: string;
  url: string;
  /** The attempt that failed (1 = the first). */
  attempt: number;
  /** `"503"`, `"refused"` (nothing was received), `"network"` (sent, no answer) or `"bad-gateway"` (502/504). */
  reason: "503" | "refused" | "network" | "bad-gateway";
  delayMs: number;
}

export const DEFAULT_RETRY: Required<Omit<RetryOptions, "onRetry">> = {
  attempts: 10,
  baseDelayMs: 250,
  maxDelayMs: 2000,
  timeoutMs: 30_000,
};

/**
 * True when sending `request` twice does no more than sending it once: reads, a cancel, storing or deleting a named
 * secret, and a webhook with an `Idempotency-Key` (the gateway answers a repeated key with the first run). Not a
 * webhook without a key (a second run) nor a publish (a second version).
 */
export function isRepeatable(request: Request): boolean {
  const method = request.method.toUpperCase();
  const path = new URL(request.url).pathname;
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return true;
  if (method === "POST" && /^\/api\/runs\/[^/]+\/cancel$/.test(path)) return true;
  if ((method === "PUT" || method === "DELETE") && path.startsWith("/api/secrets/")) return true;
  if (method === "POST" && path.startsWith("/api/hooks/")) return request.headers.has("Idempotency-Key");
  return false;
}

/** True when `error` (what fetch threw) says the connection was refused: the request never left. */
export function isConnectionRefused(error: unknown): boolean {
  return causes(error).some((e) => codeOf(e) === "ECONNREFUSED");
}

/** True when `error` (what fetch threw) is a network failure rather than a mistake in the request itself. */
export function isNetworkError(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  return (
    causes(error).some((e) => codeOf(e) !== undefined) ||
    /fetch failed|failed to fetch|networkerror|load failed|terminated|other side closed/i.test(error.message)
  );
}

function codeOf(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return undefined;
}

/** The error, its causes and, for an AggregateError (Node tries each address of a name), the errors it holds. */
function causes(error: unknown, depth = 0): unknown[] {
  if (error === undefined || error === null || depth > 8) return [];
  const found: unknown[] = [error];
  if (error instanceof AggregateError) {
    for (const inner of error.errors) found.push(...causes(inner, depth + 1));
  }
  if (error instanceof Error && error.cause !== undefined) found.push(...causes(error.cause, depth + 1));
  return found;
}

/** The wait a `Retry-After` header asks for (seconds or an HTTP date), or undefined when it has none. */
export function retryAfterMs(response: Response, now = Date.now()): number | undefined {
  const value = response.headers.get("Retry-After")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Thrown when a request got no answer: the connection was refused on every attempt, or failed after sending. */
export class EngineConnectionError extends Error {
  override name = "EngineConnectionError";

  constructor(
    message: string,
    /** Attempts made. */
    readonly attempts: number,
    /** True when the gateway may have received the request (so it was not sent again unless repeatable). */
    readonly maybeReceived: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const sleep = (ms: number, signal?: AbortSignal | null) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/**
 * A fetch that retries as described at the top of this file. Each attempt sends a clone of the request, so its body
 * (and so its signature) is the same bytes every time. When the retries run out on a 503, that answer is returned, so
 * the caller sees the gateway's problem; when they run out on connection failures, an {@link EngineConnectionError}
 * is thrown with the last failure as its cause.
 */
export function retryingFetch(
  baseFetch: typeof fetch,
  options: RetryOptions | false | undefined,
): (input: Request, init?: RequestInit) => Promise<Response> {
  const settings = { ...DEFAULT_RETRY, ...(options || {}), ...(options === false ? { attempts: 1 } : {}) };
  const onRetry = options ? options.onRetry : undefined;
  return async (request: Request, init?: RequestInit) => {
    const repeatable = isRepeatable(request);
    const started = Date.now();
    const label = `${request.method} ${new URL(request.url).pathname}`;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= settings.attempts;
      let reason: RetryInfo["reason"];
      let waitMs: number;
      let failure: unknown;
      let response: Response | undefined;
      try {
        response = await baseFetch(request.clone(), init);
      } catch (error) {
        if (request.signal.aborted) throw error;
        failure = error;
      }
      if (response !== undefined) {
        if (response.status === 503) {
          reason = "503";
        } else if ((response.status === 502 || response.status === 504) && repeatable) {
          reason = "bad-gateway";
        } else {
          return response;
        }
        const backoff = backoffMs(settings, attempt);
        waitMs = reason === "503" ? (retryAfterMs(response) ?? backoff) : backoff;
        if (last || Date.now() - started + waitMs > settings.timeoutMs) return response;
        await response.body?.cancel();
      } else {
        const refused = isConnectionRefused(failure);
        if (!refused && !isNetworkError(failure)) throw failure;
        const elapsed = ((Date.now() - started) / 1000).toFixed(1);
        if (!refused && !repeatable) {
          throw new EngineConnectionError(
            `${label}: the connection failed after the request was sent (${describe(failure)}); not sent again, since ` +
              `the gateway may have acted on it (a webhook needs an Idempotency-Key to be retried safely)`,
            attempt,
            true,
            { cause: failure },
          );
        }
        reason = refused ? "refused" : "network";
        waitMs = backoffMs(settings, attempt);
        if (last || Date.now() - started + waitMs > settings.timeoutMs) {
          throw new EngineConnectionError(
            `${label}: no answer after ${attempt} attempt(s) over ${elapsed} s (last: ${describe(failure)}); ` +
              `is the gateway running at ${new URL(request.url).origin}?`,
            attempt,
            !refused,
            { cause: failure },
          );
        }
      }
      onRetry?.({ method: request.method, url: request.url, attempt, reason, delayMs: waitMs });
      await sleep(waitMs, request.signal);
    }
  };
}

function backoffMs(settings: Required<Omit<RetryOptions, "onRetry">>, attempt: number): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function describe(error: unknown): string {
  const codes = causes(error)
    .map(codeOf)
    .filter((c) => c !== undefined);
  const message = error instanceof Error ? error.message : String(error);
  return codes.length > 0 ? `${message}: ${[...new Set(codes)].join(", ")}` : message;
}
