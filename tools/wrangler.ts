// Runs the project's wrangler CLI as a child process: KV writes of registry publishing, Worker bundles of the local stack.
import { spawn } from "node:child_process";
import { PROJECT_ROOT, WRANGLER_BIN } from "./paths";

/** A remote KV write goes through Cloudflare's API, a local one starts workerd, a bundle runs esbuild: all well within this. */
const WRANGLER_TIMEOUT_MS = 120_000;
/** How much of wrangler's output to quote when it fails. */
const MAX_ERROR_OUTPUT_CHARS = 2_000;

/** Runs wrangler under this Node (process.execPath): wrangler refuses the system Node 20. Resolves to stdout. */
export function runWrangler(args: string[], timeoutMs = WRANGLER_TIMEOUT_MS): Promise<string> {
  const what = `wrangler ${args.slice(0, 3).join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER_BIN, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`${what} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run wrangler (${WRANGLER_BIN}): ${err.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else {
        const output = (stderr.trim() || stdout.trim()).slice(-MAX_ERROR_OUTPUT_CHARS);
        reject(new Error(`${what} exited with code ${String(code)}: ${output}`));
      }
    });
  });
}
