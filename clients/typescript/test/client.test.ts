// The client's own rules against a small local HTTP server that answers as told: what is retried and what is not,
// how long it waits, the problems it raises; the signature helper against node:crypto; the checked-in schema.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  createEngineClient,
  EngineConnectionError,
  EngineProblemError,
  signWebhook,
  type RetryInfo,
} from "../src/index.js";
import { repoRoot, takePort } from "./harness.js";

type Seen = { method: string; url: string; headers: IncomingMessage["headers"]; body: string };
type Answer = (res: ServerResponse, req: IncomingMessage) => void;

let server: Server;
let base: string;
let seen: Seen[] = [];
let answers: Answer[] = [];

const problem = (status: number, message: string): Answer => (res) => {
  res.writeHead(status, { "Content-Type": "application/problem+json", ...(status === 503 ? { "Retry-After": "1" } : {}) });
  res.end(JSON.stringify({ title: `status ${status}`, status, errors: [{ message }] }));
};
const accepted: Answer = (res) => {
  res.writeHead(202, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ runId: "3f2a7c1e-0000-4000-8000-000000000001" }));
};
/** Reads the request, then drops the connection without answering. */
const hangUp: Answer = (_, req) => req.socket.destroy();

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      (answers.shift() ?? accepted)(res, req);
    });
  });
  const port = await takePort();
  await new Promise<void>((done) => server.listen(port, "127.0.0.1", done));
  base = `http://127.0.0.1:${port}`;
});

after(() => new Promise<void>((done) => server.close(() => done())));

function reset(...next: Answer[]) {
  seen = [];
  answers = next;
}

const fast = { attempts: 5, baseDelayMs: 10, maxDelayMs: 20 };

describe("signWebhook", () => {
  test("signs the raw body as the gateway checks it (sha256=<hex HMAC-SHA256>)", async () => {
    const body = '{"order": 1, "who": "Zoë"}';
    const expected = createHmac("sha256", "topsecret").update(Buffer.from(body, "utf8")).digest("hex");
    assert.deepEqual(await signWebhook("topsecret", body), { "X-Hub-Signature-256": `sha256=${expected}` });
    assert.deepEqual(await signWebhook("topsecret", new TextEncoder().encode(body)), { "X-Hub-Signature-256": `sha256=${expected}` });
  });

  test("with a timestamp, signs \"<timestamp>.<body>\" and sends the timestamp", async () => {
    const expected = createHmac("sha256", "k").update("1700000000.{}").digest("hex");
    assert.deepEqual(await signWebhook("k", "{}", { timestamp: 1_700_000_000 }), {
      "X-Signature-Timestamp": "1700000000",
      "X-Hub-Signature-256": `sha256=${expected}`,
    });
    const now = Number((await signWebhook("k", "{}", { timestamp: true }))["X-Signature-Timestamp"]);
    assert.ok(Math.abs(now - Date.now() / 1000) < 5);
    await assert.rejects(signWebhook("", "{}"), /secret is empty/);
    await assert.rejects(signWebhook("k", "{}", { timestamp: 1.5 }), /whole seconds/);
  });
});

describe("retries", () => {
  test("a 503 is retried after its Retry-After, with the same bytes and signature", async () => {
    reset(problem(503, "store down"));
    const retries: RetryInfo[] = [];
    const client = createEngineClient({ baseUrl: base, retry: { ...fast, onRetry: (r) => retries.push(r) } });
    const started = Date.now();
    const { runId } = await client.trigger("orders", { body: { n: 1 }, sign: { secret: "s" } });
    assert.equal(runId, "3f2a7c1e-0000-4000-8000-000000000001");
    assert.ok(Date.now() - started >= 950, "waited the second Retry-After asked for");
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.body, seen[0]!.body);
    assert.equal(seen[1]!.headers["x-hub-signature-256"], seen[0]!.headers["x-hub-signature-256"]);
    assert.deepEqual(retries.map((r) => [r.reason, r.delayMs]), [["503", 1000]]);
  });

  test("a 503 whose Retry-After would pass the budget is answered at once, as a problem", async () => {
    reset((res) => {
      res.writeHead(503, { "Content-Type": "application/problem+json", "Retry-After": "30" });
      res.end(JSON.stringify({ title: "Service Unavailable", status: 503, errors: [{ message: "Postgres is unavailable" }] }));
    });
    const started = Date.now();
    const client = createEngineClient({ baseUrl: base, retry: { ...fast, timeoutMs: 2000 } });
    const error = await client.getRun("r").catch((e: unknown) => e);
    assert.ok(error instanceof EngineProblemError, String(error));
    assert.equal(error.status, 503);
    assert.deepEqual(error.problem.errors, [{ message: "Postgres is unavailable" }]);
    assert.ok(Date.now() - started < 1000);
    assert.equal(seen.length, 1);
  });

  test("a 500 is never retried; a 502 is retried for a read but not for a webhook without a key", async () => {
    const client = createEngineClient({ baseUrl: base, retry: fast });
    reset(problem(500, "boom"));
    const error = await client.trigger("orders", { body: {}, idempotencyKey: "k1" }).catch((e: unknown) => e);
    assert.ok(error instanceof EngineProblemError && error.status === 500);
    assert.equal(seen.length, 1);

    reset(problem(502, "proxy"));
    await assert.rejects(client.trigger("orders", { body: {} }), (e) => e instanceof EngineProblemError && e.status === 502);
    assert.equal(seen.length, 1, "a keyless webhook is sent once");

    reset(problem(502, "proxy"), (res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify([]));
    });
    assert.deepEqual(await client.history("r"), []);
    assert.equal(seen.length, 2, "a read is sent again");
  });

  test("a connection lost after sending: a keyless webhook is not sent again, a keyed one is", async () => {
    const client = createEngineClient({ baseUrl: base, retry: fast });
    reset(hangUp);
    const error = await client.trigger("orders", { body: {} }).catch((e: unknown) => e);
    assert.ok(error instanceof EngineConnectionError, String(error));
    assert.equal(error.maybeReceived, true);
    assert.match(error.message, /not sent again/);
    assert.equal(seen.length, 1);

    reset(hangUp, hangUp);
    const { runId } = await client.trigger("orders", { body: {}, idempotencyKey: "k2" });
    assert.ok(runId);
    assert.equal(seen.length, 3);
    assert.ok(seen.every((s) => s.headers["idempotency-key"] === "k2"));

    reset(hangUp);
    await client.cancel("r");
    assert.equal(seen.length, 2, "a cancel is safe to send again");

    reset(hangUp);
    await assert.rejects(client.publish("wf", { name: "x", definition: { nodes: [], edges: [] } }), EngineConnectionError);
    assert.equal(seen.length, 1, "a publish is not sent again (it would make a second version)");
  });

  test("a refused connection is retried (nothing was received) until the attempts run out, then a clear error", async () => {
    const closed = `http://127.0.0.1:${await takePort()}`;
    const retries: RetryInfo[] = [];
    const client = createEngineClient({ baseUrl: closed, retry: { ...fast, attempts: 3, onRetry: (r) => retries.push(r) } });
    const error = await client.trigger("orders", { body: {} }).catch((e: unknown) => e);
    assert.ok(error instanceof EngineConnectionError, String(error));
    assert.equal(error.attempts, 3);
    assert.equal(error.maybeReceived, false);
    assert.match(error.message, /no answer after 3 attempt\(s\).*ECONNREFUSED.*is the gateway running/s);
    assert.deepEqual(retries.map((r) => r.reason), ["refused", "refused"]);

    const once = createEngineClient({ baseUrl: closed, retry: false });
    const single = await once.getRun("r").catch((e: unknown) => e);
    assert.ok(single instanceof EngineConnectionError && single.attempts === 1);
  });

  test("an error answer that is not problem+json still comes back as a problem that says so", async () => {
    reset((res) => {
      res.writeHead(404, { "Content-Type": "text/html" });
      res.end("<h1>not here</h1>");
    });
    const error = await createEngineClient({ baseUrl: base, apiKey: "k".repeat(16) }).getRun("r").catch((e: unknown) => e);
    assert.ok(error instanceof EngineProblemError);
    assert.equal(error.status, 404);
    assert.match(error.problem.errors?.[0]?.message ?? "", /not a problem\+json answer \(text\/html\): <h1>not here/);
    assert.equal(seen[0]!.headers.authorization, `Bearer ${"k".repeat(16)}`);
  });
});

describe("the built package", () => {
  test("dist/ imports by the package's name and works (npm run build)", async () => {
    const name = "@meshhook/engine-client";
    const built = (await import(name)) as typeof import("../src/index.js");
    assert.equal(typeof built.createEngineClient, "function");
    assert.deepEqual(built.TERMINAL_STATUSES, ["succeeded", "failed", "canceled"]);
    const expected = createHmac("sha256", "k").update("{}").digest("hex");
    assert.deepEqual(await built.signWebhook("k", "{}"), { "X-Hub-Signature-256": `sha256=${expected}` });
  });
});

describe("schema", () => {
  test("src/schema.ts is what openapi-typescript makes of openapi/v1.json (npm run generate)", () => {
    const dir = mkdtempSync(join(tmpdir(), "meshhook-schema-"));
    const out = join(dir, "schema.ts");
    const root = resolve(repoRoot, "clients/typescript");
    try {
      execFileSync(join(root, "node_modules/.bin/openapi-typescript"), [join(repoRoot, "openapi/v1.json"), "-o", out], { stdio: "pipe" });
      assert.equal(readFileSync(join(root, "src/schema.ts"), "utf8"), readFileSync(out, "utf8"), "the API changed: run npm run generate and review src/schema.ts");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("README", () => {
  test("the SvelteKit snippets of the root README are the type-checked files of examples/sveltekit", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const start = readme.indexOf("## Calling MeshHook from SvelteKit");
    assert.ok(start >= 0, "the README has its SvelteKit section");
    const end = readme.indexOf("\n## ", start + 1);
    const section = readme.slice(start, end < 0 ? undefined : end);
    const snippets = [...section.matchAll(/```ts\n\/\/ (\S+)\n([\s\S]*?)```/g)];
    assert.ok(snippets.length >= 2, `found ${snippets.length} snippets`);
    for (const [, file, text] of snippets) {
      const path = join(repoRoot, "clients/typescript/examples/sveltekit", file!);
      assert.equal(text, readFileSync(path, "utf8"), `README snippet ${file} differs from ${path}`);
    }
  });
});
