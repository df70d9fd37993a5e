// The chaos run's own redis-server on a free port (never the shared 6379): stopped and restarted for real, its data kept in an append-only file.
import { type ChildProcess, spawn } from "node:child_process";
import { isTcpReachable } from "../../dev/services";

/** How long redis-server may take to accept connections after a (re)start. */
const START_TIMEOUT_MS = 10_000;

export interface RedisProcess {
  port: number;
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startRedisProcess(port: number, dir: string): Promise<RedisProcess> {
  let child: ChildProcess | undefined;
  const start = async () => {
    // appendfsync always: an acknowledged write survives the stop, as a managed Redis's would.
    child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir],
      { stdio: "ignore" },
    );
    const until = Date.now() + START_TIMEOUT_MS;
    while (!(await isTcpReachable("127.0.0.1", port))) {
      if (Date.now() > until) throw new Error(`redis-server on port ${port} did not start within ${START_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGTERM");
    });
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, stop, start };
}
