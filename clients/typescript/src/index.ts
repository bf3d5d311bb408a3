import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";
import { retryingFetch, type RetryOptions } from "./retry.js";
import { signWebhook } from "./signature.js";

export type { components, paths } from "./schema.js";
export {
  DEFAULT_RETRY,
  EngineConnectionError,
  isConnectionRefused,
  isRepeatable,
  type RetryInfo,
  type RetryOptions,
} from "./retry.js";
export { SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER, type SignOptions } from "./signature.js";

type Schemas = components["schemas"];
export type WorkflowDefinition = Schemas["WorkflowDefinition"];
export type WorkflowNode = Schemas["WorkflowNode"];
export type WorkflowEdge = Schemas["WorkflowEdge"];
export type PublishRequest = NonNullable<paths["/api/workflows/{slug}"]["put"]["requestBody"]>["content"]["application/json"];
export type WorkflowPublished = Schemas["WorkflowPublished"];
export type WorkflowView = Schemas["WorkflowResponse"];
export type Run = Schemas["RunResponse"];
export type RunStatus = Run["status"];
export type RunEvent = Schemas["RunEventResponse"];
export type ProblemDetails = Schemas["ProblemDetails"];

/** The statuses a run does not leave. */
export const TERMINAL_STATUSES: readonly RunStatus[] = ["succeeded", "failed", "canceled"];

/** An error answer of the API: its status and its problem details (`application/problem+json`, with `errors`). */
export class EngineProblemError extends Error {
  override name = "EngineProblemError";

  constructor(
    readonly status: number,
    readonly problem: ProblemDetails,
    readonly response: Response,
    operation: string,
  ) {
    const errors = (problem.errors ?? []).map((e) => (e.nodeId ? `${e.nodeId}: ${e.message}` : e.message));
    if (errors.length === 0 && problem.detail) errors.push(problem.detail);
    super(`${operation}: ${status} ${problem.title ?? response.statusText}${errors.length ? ` (${errors.join("; ")})` : ""}`);
  }
}

/** Thrown by {@link EngineClient.waitForRun} when the run is not finished at the deadline. */
export class RunWaitTimeoutError extends Error {
  override name = "RunWaitTimeoutError";

  constructor(
    readonly runId: string,
    /** The run as last seen, if it was seen at all. */
    readonly lastSeen: Run | undefined,
    readonly timeoutMs: number,
  ) {
    super(
      `run ${runId} did not finish within ${timeoutMs} ms (last status: ${lastSeen?.status ?? "never read"}; ` +
        `steps: ${lastSeen?.steps.map((s) => `${s.nodeId}=${s.status}`).join(", ") || "none"})`,
    );
  }
}

export interface EngineClientOptions {
  /** The gateway's address, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** One of the gateway's API keys (`MeshHook:Gateway:ApiKeys`); webhooks need none. */
  apiKey?: string;
  /** How requests are retried (see the README); `false` sends each request once. */
  retry?: RetryOptions | false;
  /** The fetch to use, e.g. SvelteKit's `event.fetch`; default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

export interface TriggerOptions {
  /** Any JSON value, serialised once with `JSON.stringify` (give `rawBody` instead to send exact bytes). */
  body?: unknown;
  /** The body as it is to be sent, e.g. a webhook being forwarded with its sender's signature. */
  rawBody?: string | Uint8Array;
  /** Makes intake idempotent: the same key answers with the same run, so the request may be retried safely. */
  idempotencyKey?: string;
  /** Sign the body with the workflow's secret; `timestamp` for a workflow published with `timestampedSignature`. */
  sign?: { secret: string; timestamp?: true | number };
  /** More headers, e.g. a forwarded `X-Hub-Signature-256`; they are stored with the run, except credentials. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Triggered {
  runId: string;
  /** True when the gateway answered an `Idempotency-Key` it had seen (`Idempotent-Replayed: true`). */
  replayed: boolean;
}

export interface WaitOptions {
  /** Give up after this long (default 60 s) ... */
  timeoutMs?: number;
  /** ... or at this moment, whichever comes first. */
  deadline?: Date | number;
  /** Pause between two reads of the run (default 250 ms). */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface EngineClient {
  /** The openapi-fetch client underneath, typed from openapi/v1.json, with the same key and retries. */
  readonly api: Client<paths>;
  /** `PUT /api/workflows/{slug}`: publishes a new immutable version (optionally with a webhook secret). */
  publish(slug: string, workflow: PublishRequest): Promise<WorkflowPublished>;
  /** `GET /api/workflows/{slug}`: the latest version. */
  getWorkflow(slug: string): Promise<WorkflowView>;
  /** `POST /api/hooks/{slug}`: stores a run and starts it. */
  trigger(slug: string, options?: TriggerOptions): Promise<Triggered>;
  /** `GET /api/runs/{runId}` */
  getRun(runId: string): Promise<Run>;
  /** `GET /api/runs/{runId}/events`: the run's history, in order. */
  history(runId: string): Promise<RunEvent[]>;
  /** `POST /api/runs/{runId}/cancel`: the run as it is after the cancel (a finished run is left as it is). */
  cancel(runId: string): Promise<Run>;
  /** Reads the run until it is succeeded, failed or canceled; rejects with {@link RunWaitTimeoutError} at the deadline. */
  waitForRun(runId: string, options?: WaitOptions): Promise<Run>;
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** A client of the MeshHook gateway. */
export function createEngineClient(options: EngineClientOptions): EngineClient {
  const api = createClient<paths>({
    baseUrl: options.baseUrl,
    fetch: retryingFetch(options.fetch ?? globalThis.fetch, options.retry),
    headers: options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {},
  });

  function unwrap<T>(operation: string, answer: Answer<T>): T {
    if (answer.response.ok) return answer.data as T;
    throw new EngineProblemError(answer.response.status, asProblem(answer.error, answer.response), answer.response, operation);
  }

  const getRun = async (runId: string, signal?: AbortSignal) =>
    unwrap(`GET run ${runId}`, await api.GET("/api/runs/{runId}", { params: { path: { runId } }, signal }));

  return {
    api,
    publish: async (slug, workflow) =>
      unwrap(`publish ${slug}`, await api.PUT("/api/workflows/{slug}", { params: { path: { slug } }, body: workflow })),
    getWorkflow: async (slug) =>
      unwrap(`GET workflow ${slug}`, await api.GET("/api/workflows/{slug}", { params: { path: { slug } } })),
    async trigger(slug, { body, rawBody, idempotencyKey, sign, headers, signal } = {}) {
      if (rawBody !== undefined && body !== undefined) {
        throw new TypeError("trigger: give body or rawBody, not both");
      }
      const payload = rawBody ?? JSON.stringify(body ?? {});
      const all: Record<string, string> = { ...headers };
      if (idempotencyKey !== undefined) all["Idempotency-Key"] = idempotencyKey;
      if (sign) Object.assign(all, await signWebhook(sign.secret, payload, { timestamp: sign.timestamp }));
      const answer = await api.POST("/api/hooks/{slug}", {
        params: { path: { slug } },
        body: payload,
        // The bytes signed are the bytes sent: no second serialisation.
        bodySerializer: (b: unknown) => b as string,
        headers: all,
        signal,
      });
      const accepted = unwrap(`trigger ${slug}`, answer);
      return { runId: accepted.runId, replayed: answer.response.headers.get("Idempotent-Replayed") === "true" };
    },
    getRun: (runId) => getRun(runId),
    history: async (runId) =>
      unwrap(`GET history of ${runId}`, await api.GET("/api/runs/{runId}/events", { params: { path: { runId } } })),
    cancel: async (runId) =>
      unwrap(`cancel ${runId}`, await api.POST("/api/runs/{runId}/cancel", { params: { path: { runId } } })),
    async waitForRun(runId, { timeoutMs = 60_000, deadline, pollMs = 250, signal } = {}) {
      const end = Math.min(Date.now() + timeoutMs, deadline === undefined ? Infinity : +deadline);
      const budget = Math.max(0, end - Date.now());
      let last: Run | undefined;
      for (;;) {
        signal?.throwIfAborted();
        const left = end - Date.now();
        if (left <= 0) throw new RunWaitTimeoutError(runId, last, budget);
        // A read that the gateway answers 503 (no silo yet) is retried, but never past the deadline.
        const limit = AbortSignal.timeout(left);
        try {
          last = await getRun(runId, signal ? AbortSignal.any([signal, limit]) : limit);
        } catch (error) {
          if (limit.aborted && !signal?.aborted) throw new RunWaitTimeoutError(runId, last, budget);
          throw error;
        }
        if (TERMINAL_STATUSES.includes(last.status)) return last;
        await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(0, end - Date.now()))));
      }
    },
  };
}

/** The problem in an error answer; an answer that is not problem+json (a proxy's page) becomes one that says so. */
function asProblem(error: unknown, response: Response): ProblemDetails {
  if (typeof error === "object" && error !== null && !Array.isArray(error)) return error as ProblemDetails;
  const text = typeof error === "string" ? error.slice(0, 200) : "";
  return {
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    errors: [{ message: `not a problem+json answer (${response.headers.get("Content-Type") ?? "no Content-Type"})${text ? `: ${text}` : ""}` }],
  };
}
