// `npm run dev` as a child process, for commands that need the whole stack for a while (npm run feast:e2e).
import { type ChildProcess, spawn } from "node:child_process";
import { type DevStackInfo, readDevStack } from "./dev-stack";
import { PROJECT_ROOT, TSX_BIN } from "./paths";

/** What `npm run dev` prints once everything is up (dev/start.ts). */
const READY_LINE = /^Ready in /m;
/** Migrations, registry, demo seed and materialization on a cold machine, with room. */
const START_TIMEOUT_MS = 6 * 60_000;

export interface RunningStack {
  info: DevStackInfo;
  stop(): Promise<void>;
}

/** Starts the dev stack with `env` added, resolves once it printed "Ready", rejects with its output if it exits first. */
export async function startDevStack(env: Record<string, string>, onLine?: (line: string) => void): Promise<RunningStack> {
  const child: ChildProcess = spawn(process.execPath, [TSX_BIN, "dev/start.ts"], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so that stopping it stops workerd and the services it started too.
    detached: true,
  });
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the dev stack was not ready after ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      for (const line of text.split("\n")) if (line.trim()) onLine?.(line);
      if (READY_LINE.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the dev stack exited (${code}) before it was ready:\n${output.slice(-3000)}`));
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  const stop = async () => {
    // Ctrl-C as a user would press it: dev/start.ts closes the Workers and services in order.
    if (child.exitCode === null) signalGroup("SIGINT");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    signalGroup("SIGKILL");
  };
  try {
    await ready;
  } catch (err) {
    await stop();
    throw err;
  }
  const info = readDevStack();
  if (!info) {
    await stop();
    throw new Error("the dev stack said Ready but wrote no .data/dev-stack.json");
  }
  return { info, stop };
}
