// The real programs as child processes (like run.sh starts them), a fresh Postgres database, free ports.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";

export const repoRoot = resolve(import.meta.dirname, "../../../..");
export const siloDll = join(repoRoot, "Silo/bin/Release/net10.0/MeshHook.Silo.dll");
export const gatewayDll = join(repoRoot, "Gateway/bin/Release/net10.0/MeshHook.Gateway.dll");
let logs: string | undefined;
/** Where the programs' output goes: MESHHOOK_TS_LOGS (test.sh keeps it when a test failed), else a new folder. */
export const logDir = () => (logs ??= process.env.MESHHOOK_TS_LOGS || mkdtempSync(join(tmpdir(), "meshhook-tsclient-")));

const children = new Set<ChildProcess>();
// Whatever way this process ends, no program it started is left running.
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** Ports from MESHHOOK_TS_PORTS ("40200-40299"), else 30000-32767 (below Linux's ephemeral ports), from a random start. */
const [firstPort, lastPort] = (process.env.MESHHOOK_TS_PORTS ?? "30000-32767").split("-").map(Number) as [number, number];
let nextPort = firstPort + Math.floor(Math.random() * (lastPort - firstPort + 1));
const handedOut = new Set<number>();

const isFree = (port: number) =>
  new Promise<boolean>((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });

/** A port free on 127.0.0.1 now and not handed out before by this process. */
export async function takePort(): Promise<number> {
  for (let tried = 0; tried <= lastPort - firstPort; tried++) {
    const port = nextPort;
    nextPort = port === lastPort ? firstPort : port + 1;
    if (!handedOut.has(port) && (await isFree(port))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${firstPort}-${lastPort}`);
}

/** Npgsql's "Key=Value;..." form, as ConnectionStrings__MeshHook holds it. */
function parseNpgsql(text: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const part of text.split(";")) {
    const at = part.indexOf("=");
    if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return parts;
}

function pgConfig(parts: Map<string, string>): pg.ClientConfig {
  return {
    host: parts.get("host") ?? parts.get("server") ?? "127.0.0.1",
    port: Number(parts.get("port") ?? 5432),
    user: parts.get("username") ?? parts.get("user id") ?? parts.get("user") ?? "postgres",
    password: parts.get("password"),
    database: parts.get("database") ?? "postgres",
  };
}

/** A fresh database on the server of ConnectionStrings__MeshHook, dropped by {@link Database.drop}. */
export class Database {
  private constructor(
    readonly name: string,
    readonly connectionString: string,
    private readonly admin: pg.ClientConfig,
    readonly config: pg.ClientConfig,
  ) {}

  static async create(): Promise<Database> {
    const base = process.env.ConnectionStrings__MeshHook;
    if (!base) throw new Error("ConnectionStrings__MeshHook is not set (clients/typescript/test.sh sets it)");
    const parts = parseNpgsql(base);
    const admin = pgConfig(parts);
    const name = `meshhook_ts_${randomBytes(6).toString("hex")}`;
    await Database.run(admin, `CREATE DATABASE ${name}`);
    parts.set("database", name);
    const connectionString = [...parts].map(([k, v]) => `${k}=${v}`).join(";");
    return new Database(name, connectionString, admin, { ...admin, database: name });
  }

  private static async run(config: pg.ClientConfig, sql: string): Promise<void> {
    const client = new pg.Client(config);
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  async query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    const client = new pg.Client(this.config);
    await client.connect();
    try {
      return (await client.query<R>(sql, values)).rows;
    } finally {
      await client.end();
    }
  }

  async drop(): Promise<void> {
    await Database.run(this.admin, `DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
  }
}

/** A silo or the gateway, started as `dotnet <dll>`, its output in a log file under {@link logDir}. */
export class ProgramProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly log: WriteStream;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly url: string,
    readonly logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: "a" });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.exited = new Promise((done) =>
      child.once("exit", (code, signal) => {
        children.delete(child);
        done({ code, signal });
      }),
    );
  }

  static start(name: string, dll: string, httpPort: number, env: Record<string, string>, args: string[] = []): ProgramProcess {
    if (!existsSync(dll)) throw new Error(`${dll} is missing: build first (dotnet build MeshHook.Silo.sln -c Release)`);
    const url = `http://127.0.0.1:${httpPort}`;
    const child = spawn("dotnet", [dll, "--urls", url, ...args], {
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1", DOTNET_NOLOGO: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    return new ProgramProcess(name, child, url, join(logDir(), `${name.replace(/\W+/g, "-")}.log`));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until GET /health/ready answers 200, or fails naming the program, its exit and its log. */
  async waitReady(timeoutMs = 90_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (!this.running) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before it was ready; log:\n${this.tail()}`);
      try {
        const answer = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(3000) });
        if (answer.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${this.name} was not ready within ${timeoutMs} ms; log:\n${this.tail()}`);
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Sends SIGTERM and waits for the exit, at most `timeoutMs`. */
  async stop(timeoutMs = 40_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.signal("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`${this.name} did not exit within ${timeoutMs} ms of SIGTERM; log:\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  tail(lines = 60): string {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }
}

/** Kills every program still running (SIGKILL) and waits for them. */
export async function killAll(): Promise<void> {
  const waits = [...children].map((child) => new Promise((done) => (child.exitCode !== null || child.signalCode !== null ? done(null) : child.once("exit", done))));
  for (const child of children) child.kill("SIGKILL");
  await Promise.all(waits);
}

/** A made-up key of at least 16 characters, for the API and for secrets at rest, new each run. */
export const makeKey = (bytes: number) => randomBytes(bytes).toString("base64");

/** Silo settings for the tests: quick recovery, logs short. */
export function siloEnvironment(db: Database, clusterId: string, secretsKey: string, siloPort: number, gatewayPort: number): Record<string, string> {
  return {
    ...commonEnvironment(db, clusterId, secretsKey),
    Orleans__SiloPort: String(siloPort),
    Orleans__GatewayPort: String(gatewayPort),
    MeshHook__Recovery__SweepInterval: "00:00:01",
  };
}

export function commonEnvironment(db: Database, clusterId: string, secretsKey: string): Record<string, string> {
  return {
    ConnectionStrings__MeshHook: db.connectionString,
    Orleans__ClusterId: clusterId,
    MeshHook__Secrets__Key: secretsKey,
    Logging__LogLevel__Default: "Warning",
    Logging__LogLevel__MeshHook: "Information",
    "Logging__LogLevel__Microsoft.Hosting.Lifetime": "Information",
    Logging__Console__FormatterName: "simple",
    Logging__Console__FormatterOptions__SingleLine: "true",
    Logging__Console__FormatterOptions__TimestampFormat: "HH:mm:ss.fff ",
  };
}

/** Runs `dotnet Silo.dll --migrate` and waits for exit 0. */
export async function migrate(db: Database, secretsKey: string): Promise<void> {
  const child = spawn("dotnet", [siloDll, "--migrate"], {
    env: { ...process.env, ConnectionStrings__MeshHook: db.connectionString, MeshHook__Secrets__Key: secretsKey },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((done) => child.once("exit", (c) => done(c)));
  children.delete(child);
  if (code !== 0) throw new Error(`silo --migrate exited ${code}:\n${output}`);
}
