// The client against the real programs: two silos and the gateway (the built dlls, started with dotnet), a fresh
// Postgres database. Publish, signed and unsigned webhooks, runs followed to their end, history, cancel, every error
// answer as a problem; then the same while a silo stops on SIGTERM, a 503 retried through Retry-After, and a gateway
// restart under keyed webhooks (one run per key).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  createEngineClient,
  EngineProblemError,
  RunWaitTimeoutError,
  type EngineClient,
  type RetryInfo,
  type Run,
  type WorkflowDefinition,
} from "../src/index.js";
import {
  commonEnvironment,
  Database,
  gatewayDll,
  killAll,
  makeKey,
  migrate,
  ProgramProcess,
  siloDll,
  siloEnvironment,
  takePort,
} from "./harness.js";

const apiKey = makeKey(24);
const secretsKey = makeKey(32);
const clusterId = `ts-${randomUUID().slice(0, 8)}`;
let db: Database;
let gatewayPort: number;
let gateway: ProgramProcess;
const silos: ProgramProcess[] = [];
let engine: EngineClient;
let siloCount = 0;

async function startSilo(): Promise<ProgramProcess> {
  const [http, siloPort, clientPort] = [await takePort(), await takePort(), await takePort()];
  const silo = ProgramProcess.start(`silo${siloCount++}`, siloDll, http, siloEnvironment(db, clusterId, secretsKey, siloPort, clientPort));
  silos.push(silo);
  return silo;
}

function startGateway(): ProgramProcess {
  return ProgramProcess.start(`gateway`, gatewayDll, gatewayPort, {
    ...commonEnvironment(db, clusterId, secretsKey),
    MeshHook__Gateway__ApiKeys__0: apiKey,
    // A grain call with no silo to answer it gives up (503) after 3 s, and asks for a retry after 1 s.
    MeshHook__Gateway__GrainCallTimeout: "00:00:03",
    MeshHook__Gateway__RetryAfterSeconds: "1",
  });
}

const slug = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** webhook -> transform (echoes the body with a tag). */
const echo: WorkflowDefinition = {
  nodes: [
    { id: "hook", type: "webhook" },
    { id: "shape", type: "transform", data: { expression: "{order: trigger.body.order, tag: 'done'}" } },
  ],
  edges: [{ source: "hook", target: "shape" }],
};

/** webhook -> delay(ms) -> transform. */
const delayed = (ms: number): WorkflowDefinition => ({
  nodes: [
    { id: "hook", type: "webhook" },
    { id: "wait", type: "delay", data: { ms } },
    { id: "after", type: "transform", data: { expression: "trigger.body" } },
  ],
  edges: [
    { source: "hook", target: "wait" },
    { source: "wait", target: "after" },
  ],
});

async function expectProblem(call: Promise<unknown>, status: number, text?: RegExp): Promise<EngineProblemError> {
  const error = await call.then(
    () => assert.fail(`expected a ${status} problem, got a success`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof EngineProblemError, `expected an EngineProblemError, got ${String(error)}`);
  assert.equal(error.status, status, error.message);
  assert.equal(error.problem.status, status);
  assert.match(error.response.headers.get("Content-Type") ?? "", /application\/problem\+json/);
  assert.ok(error.problem.errors && error.problem.errors.length > 0, "a problem lists at least one error");
  if (text) assert.match(error.problem.errors.map((e) => e.message).join("\n"), text);
  return error;
}

/** Waits until `check` holds for the run, reading it every 100 ms, or fails naming what did not happen. */
async function until(runId: string, what: string, check: (run: Run) => boolean, timeoutMs = 20_000): Promise<Run> {
  const end = Date.now() + timeoutMs;
  let run: Run | undefined;
  while (Date.now() < end) {
    run = await engine.getRun(runId);
    if (check(run)) return run;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`run ${runId}: ${what} did not happen within ${timeoutMs} ms (last: ${JSON.stringify(run)})`);
}

/** Counts steps of each silo from its /metrics (meshhook_steps_total of webhook steps: runs started there). */
async function runsStartedOn(silo: ProgramProcess): Promise<number> {
  const text = await (await fetch(`${silo.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("meshhook_steps_total{") && line.includes('type="webhook"')) total += Number(line.split(" ").pop());
  }
  return total;
}

before(async () => {
  db = await Database.create();
  await migrate(db, secretsKey);
  gatewayPort = await takePort();
  const first = [await startSilo(), await startSilo()];
  gateway = startGateway();
  await Promise.all([...first.map((s) => s.waitReady()), gateway.waitReady()]);
  engine = createEngineClient({ baseUrl: gateway.url, apiKey });
});

after(async () => {
  await killAll();
  await db?.drop();
});

describe("the client against a real gateway and two silos", { concurrency: false }, () => {
  test("publishes, triggers unsigned, follows the run to its end and reads its history", async () => {
    const name = slug("echo");
    const published = await engine.publish(name, { name: "Echo", definition: echo });
    assert.deepEqual(published, { slug: name, version: 1 });
    assert.equal((await engine.publish(name, { name: "Echo v2", definition: echo })).version, 2);
    const view = await engine.getWorkflow(name);
    assert.equal(view.version, 2);
    assert.equal(view.definition.nodes.length, 2);

    const { runId, replayed } = await engine.trigger(name, { body: { order: 7 } });
    assert.equal(replayed, false);
    const run = await engine.waitForRun(runId, { timeoutMs: 30_000 });
    assert.equal(run.status, "succeeded", JSON.stringify(run));
    assert.deepEqual(run.output, { order: 7, tag: "done" });
    assert.deepEqual(
      run.steps.map((s) => [s.nodeId, s.status]),
      [
        ["hook", "succeeded"],
        ["shape", "succeeded"],
      ],
    );

    const events = await engine.history(runId);
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => events[0]!.seq + i),
      "seq counts up without gaps",
    );
    assert.equal(events[0]?.type, "run_created");
    assert.equal(events.at(-1)?.type, "run_completed");
    assert.ok(events.filter((e) => e.type === "step_succeeded").length === 2, events.map((e) => e.type).join(","));
  });

  test("an Idempotency-Key answers the same run, marked replayed", async () => {
    const name = slug("idem");
    await engine.publish(name, { name: "Idem", definition: echo });
    const key = randomUUID();
    const first = await engine.trigger(name, { body: { order: 1 }, idempotencyKey: key });
    const second = await engine.trigger(name, { body: { order: 2 }, idempotencyKey: key });
    assert.equal(second.runId, first.runId);
    assert.deepEqual([first.replayed, second.replayed], [false, true]);
    const rows = await db.query<{ n: string }>("SELECT count(*) AS n FROM workflow_runs WHERE slug = $1", [name]);
    assert.equal(Number(rows[0]?.n), 1);
  });

  test("signed webhooks: the signature helper is accepted, a wrong or missing one is a 401 problem", async () => {
    const name = slug("signed");
    const secret = `s3cret-${randomUUID()}`;
    await engine.publish(name, { name: "Signed", definition: echo, secret });
    const ok = await engine.trigger(name, { body: { order: 11 }, sign: { secret } });
    assert.equal((await engine.waitForRun(ok.runId, { timeoutMs: 30_000 })).status, "succeeded");
    // The bytes sent are the bytes signed: a body with odd spacing and non-ASCII text, given raw.
    const raw = await engine.trigger(name, { rawBody: '{ "order" : 12, "who": "Zoë ✓" }', sign: { secret } });
    assert.deepEqual((await engine.waitForRun(raw.runId, { timeoutMs: 30_000 })).output, { order: 12, tag: "done" });

    await expectProblem(engine.trigger(name, { body: { order: 13 }, sign: { secret: "not-the-secret" } }), 401, /signature/);
    await expectProblem(engine.trigger(name, { body: { order: 14 } }), 401, /signature/);
  });

  test("timestamped signatures: now is accepted, ten minutes ago is a 401 problem", async () => {
    const name = slug("stamped");
    const secret = `s3cret-${randomUUID()}`;
    await engine.publish(name, { name: "Stamped", definition: echo, secret, timestampedSignature: true });
    assert.equal((await engine.getWorkflow(name)).timestampedSignature, true);
    const ok = await engine.trigger(name, { body: { order: 21 }, sign: { secret, timestamp: true } });
    assert.equal((await engine.waitForRun(ok.runId, { timeoutMs: 30_000 })).status, "succeeded");
    const old = Math.floor(Date.now() / 1000) - 600;
    await expectProblem(engine.trigger(name, { body: { order: 22 }, sign: { secret, timestamp: old } }), 401, /timestamp/);
    // Signed without the timestamp: refused too.
    await expectProblem(engine.trigger(name, { body: { order: 23 }, sign: { secret } }), 401);
  });

  test("cancels a run waiting in a long delay", async () => {
    const name = slug("cancel");
    await engine.publish(name, { name: "Long wait", definition: delayed(600_000) });
    const { runId } = await engine.trigger(name, { body: { order: 31 } });
    await until(runId, "the delay step running", (r) => r.steps.some((s) => s.nodeId === "wait" && s.status === "running"));
    const afterCancel = await engine.cancel(runId);
    assert.equal(afterCancel.runId, runId);
    const run = await engine.waitForRun(runId, { timeoutMs: 20_000 });
    assert.equal(run.status, "canceled");
    assert.ok((await engine.history(runId)).some((e) => e.type === "run_canceled"));
    // A finished run is left as it is.
    assert.equal((await engine.cancel(runId)).status, "canceled");
  });

  test("waitForRun rejects at its deadline with the run's last state", async () => {
    const name = slug("slow");
    await engine.publish(name, { name: "Slow", definition: delayed(600_000) });
    const { runId } = await engine.trigger(name, { body: {} });
    const started = Date.now();
    const error = await engine.waitForRun(runId, { timeoutMs: 800, pollMs: 100 }).then(
      () => assert.fail("resolved before the run finished"),
      (e: unknown) => e,
    );
    const took = Date.now() - started;
    assert.ok(error instanceof RunWaitTimeoutError, String(error));
    assert.equal(error.runId, runId);
    assert.match(error.message, new RegExp(`run ${runId} did not finish within 800 ms`));
    assert.ok(took >= 750 && took < 5000, `gave up after ${took} ms`);
    await expectProblem(
      engine.waitForRun(randomUUID(), { deadline: new Date(Date.now() + 5000) }),
      404,
    );
    await engine.cancel(runId);
  });

  test("every error answer is a typed problem: 404 run, 400 definition, 401 key, 404 slug", async () => {
    await expectProblem(engine.getRun(randomUUID()), 404);
    await expectProblem(engine.history(randomUUID()), 404);
    await expectProblem(engine.cancel(randomUUID()), 404);

    const bad = await expectProblem(
      engine.publish(slug("bad"), {
        name: "Bad",
        definition: {
          nodes: [
            { id: "hook", type: "webhook" },
            { id: "a", type: "transform", data: { expression: "a ||| b" } },
            { id: "b", type: "transform", data: { expression: "x" } },
          ],
          edges: [
            { source: "hook", target: "a" },
            { source: "a", target: "b" },
            { source: "b", target: "a" },
          ],
        },
      }),
      400,
    );
    assert.ok(bad.problem.errors!.length >= 2, `every problem listed: ${bad.message}`);
    assert.ok(bad.problem.errors!.some((e) => e.nodeId === "a"), bad.message);

    const stranger = createEngineClient({ baseUrl: gateway.url, apiKey: makeKey(24) });
    const unauthorized = await expectProblem(stranger.getRun(randomUUID()), 401);
    assert.match(unauthorized.response.headers.get("WWW-Authenticate") ?? "", /^Bearer/);
    await expectProblem(createEngineClient({ baseUrl: gateway.url }).publish(slug("anon"), { name: "x", definition: echo }), 401);

    await expectProblem(engine.trigger(slug("nobody"), { body: {} }), 404, /no published workflow/);
    const name = slug("json");
    await engine.publish(name, { name: "JSON", definition: echo });
    await expectProblem(engine.trigger(name, { rawBody: "{not json" }), 400);
    await expectProblem(engine.trigger(name, { body: {}, idempotencyKey: "has spaces" }), 400, /Idempotency-Key/);
  });

  test("while a silo stops on SIGTERM: runs in flight finish, and the whole API keeps working", { timeout: 90_000 }, async () => {
    const name = slug("drain");
    await engine.publish(name, { name: "Drain", definition: delayed(6000) });
    const [a, b] = silos.filter((s) => s.running) as [ProgramProcess, ProgramProcess];
    const before = [await runsStartedOn(a), await runsStartedOn(b)];
    const inFlight = await Promise.all(Array.from({ length: 12 }, (_, i) => engine.trigger(name, { body: { i } })));
    for (const { runId } of inFlight) await until(runId, "the delay step running", (r) => r.steps.some((s) => s.nodeId === "wait" && s.status !== "pending"));
    // Stop the silo that started the most of these runs, so runs are surely handed off.
    const [onA, onB] = [(await runsStartedOn(a)) - before[0]!, (await runsStartedOn(b)) - before[1]!];
    const victim = onA >= onB ? a : b;
    const stopping = victim.stop(40_000);

    // The API while the silo drains: publish, signed and unsigned webhooks, cancel, history, problems.
    const secret = `s3cret-${randomUUID()}`;
    const during = slug("during");
    await engine.publish(during, { name: "During", definition: echo, secret });
    const signed = await engine.trigger(during, { body: { order: 41 }, sign: { secret } });
    const unsigned = await engine.trigger(name, { body: { i: 99 } });
    const canceled = inFlight[0]!.runId;
    await engine.cancel(canceled);
    await expectProblem(engine.trigger(during, { body: { order: 42 } }), 401);
    await expectProblem(engine.getRun(randomUUID()), 404);

    const exit = await stopping;
    assert.deepEqual(exit, { code: 0, signal: null }, `the silo exits 0 on SIGTERM; log:\n${victim.tail()}`);

    assert.equal((await engine.waitForRun(signed.runId, { timeoutMs: 30_000 })).status, "succeeded");
    assert.equal((await engine.waitForRun(unsigned.runId, { timeoutMs: 30_000 })).status, "succeeded");
    assert.equal((await engine.waitForRun(canceled, { timeoutMs: 30_000 })).status, "canceled");
    let handedOff = 0;
    for (const { runId } of inFlight.slice(1)) {
      const run = await engine.waitForRun(runId, { timeoutMs: 30_000 });
      assert.equal(run.status, "succeeded", `run ${runId}: ${JSON.stringify(run)}`);
      const types = (await engine.history(runId)).map((e) => e.type);
      assert.equal(types.at(-1), "run_completed");
      if (types.includes("run_handed_off")) {
        handedOff++;
        assert.ok(types.indexOf("run_resumed") > types.indexOf("run_handed_off"), `resumed after the hand-off: ${types.join(",")}`);
      }
    }
    assert.ok(handedOff > 0, `at least one run was handed off by the stopping silo (it had started ${Math.max(onA, onB)})`);
  });

  test("503 + Retry-After is retried: a run read while no silo is up is answered once one is", { timeout: 90_000 }, async () => {
    const name = slug("nosilo");
    await engine.publish(name, { name: "No silo", definition: echo });
    for (const silo of silos.filter((s) => s.running)) assert.equal((await silo.stop()).code, 0);
    // Intake needs Postgres only: the run is stored, queued.
    const { runId } = await engine.trigger(name, { body: { order: 51 } });

    const retries: RetryInfo[] = [];
    const patient = createEngineClient({ baseUrl: gateway.url, apiKey, retry: { attempts: 60, timeoutMs: 60_000, onRetry: (r) => retries.push(r) } });
    const impatient = createEngineClient({ baseUrl: gateway.url, apiKey, retry: false });
    const refused = await expectProblem(impatient.getRun(runId), 503);
    assert.ok(Number(refused.response.headers.get("Retry-After")) >= 1, "a 503 carries Retry-After");

    const reading = patient.waitForRun(runId, { timeoutMs: 60_000 });
    // A silo is started once the client has met a 503 and is waiting to try again.
    while (retries.length === 0) await new Promise((r) => setTimeout(r, 50));
    const fresh = await startSilo();
    await fresh.waitReady();
    const run = await reading;
    assert.equal(run.status, "succeeded");
    assert.ok(retries.length > 0 && retries.every((r) => r.reason === "503"), JSON.stringify(retries));
    assert.ok(retries.every((r) => r.delayMs === 1000), `waited as Retry-After said: ${retries.map((r) => r.delayMs).join(",")}`);
  });

  test("a gateway restart under keyed webhooks: refused connections retried, exactly one run per key", { timeout: 90_000 }, async () => {
    const name = slug("restart");
    await engine.publish(name, { name: "Restart", definition: echo });
    const retries: RetryInfo[] = [];
    const client = createEngineClient({
      baseUrl: gateway.url,
      apiKey,
      retry: { attempts: 100, baseDelayMs: 100, maxDelayMs: 500, timeoutMs: 60_000, onRetry: (r) => retries.push(r) },
    });
    const accepted = new Map<string, string[]>();
    let sending = true;
    let sent = 0;
    // Three senders, each key sent twice in a row, until the gateway is back and has taken a few more.
    const sender = async (lane: number) => {
      while (sending) {
        const key = `k-${lane}-${sent++}`;
        for (let i = 0; i < 2; i++) {
          const { runId } = await client.trigger(name, { body: { order: sent }, idempotencyKey: key });
          accepted.set(key, [...(accepted.get(key) ?? []), runId]);
        }
      }
    };
    let senderFailure: unknown;
    const senders = [0, 1, 2].map((lane) =>
      sender(lane).catch((e: unknown) => {
        senderFailure ??= e;
        sending = false;
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    const old = gateway;
    assert.deepEqual(await old.stop(), { code: 0, signal: null }, `the gateway exits 0 on SIGTERM; log:\n${old.tail()}`);
    const keysBeforeRestart = accepted.size;
    gateway = startGateway();
    await gateway.waitReady();
    const target = accepted.size + 6;
    while (accepted.size < target && senderFailure === undefined) await new Promise((r) => setTimeout(r, 50));
    sending = false;
    await Promise.all(senders);
    if (senderFailure !== undefined) throw senderFailure;

    const refusals = retries.filter((r) => r.reason === "refused").length;
    assert.ok(refusals > 0, `the client met refused connections while the gateway was down: ${JSON.stringify(retries.slice(0, 5))}`);
    assert.ok(accepted.size > keysBeforeRestart, "keys were accepted after the restart");
    for (const [key, runIds] of accepted) assert.equal(new Set(runIds).size, 1, `key ${key} answered one run: ${runIds.join(",")}`);

    const rows = await db.query<{ key: string; n: string }>(
      "SELECT idempotency_key AS key, count(*) AS n FROM workflow_runs WHERE slug = $1 GROUP BY idempotency_key",
      [name],
    );
    assert.equal(rows.length, accepted.size, "one stored key per key sent");
    for (const row of rows) {
      assert.equal(Number(row.n), 1, `one run for key ${row.key}`);
      assert.ok(accepted.has(row.key), `stored key ${row.key} was sent`);
    }
    for (const [, [runId]] of accepted) assert.equal((await engine.waitForRun(runId!, { timeoutMs: 30_000 })).status, "succeeded");
    const others = retries.filter((r) => r.reason !== "refused").map((r) => r.reason);
    console.log(`# gateway restart: ${accepted.size} keys, ${refusals} refused connections retried, other retries: ${others.join(",") || "none"}`);
  });
});
