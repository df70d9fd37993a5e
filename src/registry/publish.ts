// Publishes a registry snapshot to the REGISTRY_KV namespace with wrangler (local persistence or Cloudflare).
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { REGISTRY_SNAPSHOT_KEY, REGISTRY_VERSION_KEY } from "../core/keys";
import type { RegistrySnapshot } from "../core/registry";

export const PROJECT_ROOT = path.resolve(import.meta.dirname, "..", "..");
export const WRANGLER_BIN = path.join(PROJECT_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
export const WRANGLER_CONFIG = path.join(PROJECT_ROOT, "wrangler.toml");
/** Same directory the local Workers of `npm run dev` persist to (dev/local-workers.ts). */
export const DEFAULT_PERSIST_DIR = path.join(PROJECT_ROOT, ".data", "wrangler");
export const REGISTRY_KV_BINDING = "REGISTRY_KV";
/** A remote write goes through Cloudflare's API; a local one starts workerd. Both finish well within this. */
const WRANGLER_TIMEOUT_MS = 120_000;
/** How much of wrangler's output to quote when it fails. */
const MAX_ERROR_OUTPUT_CHARS = 2_000;
/** What `wrangler kv key get` prints (exit 0) for a missing key. */
const WRANGLER_MISSING_VALUE = "Value not found";

export type PublishTarget = { kind: "local"; persistTo?: string; env?: string } | { kind: "remote"; env?: string };

export function describeTarget(target: PublishTarget): string {
  const env = target.env ? ` (env ${target.env})` : "";
  if (target.kind === "remote") return `Cloudflare KV${env}`;
  const dir = target.persistTo ?? DEFAULT_PERSIST_DIR;
  const shown = path.relative(process.cwd(), dir);
  return `local KV in ${shown && !shown.startsWith("..") ? shown : dir}${env}`;
}

function targetFlags(target: PublishTarget): string[] {
  const flags = target.kind === "remote" ? ["--remote"] : ["--local", "--persist-to", target.persistTo ?? DEFAULT_PERSIST_DIR];
  if (target.env) flags.push("--env", target.env);
  return flags;
}

/**
 * Writes `registry:snapshot` then `registry:version`. The order matters: Workers poll the small
 * version key and then fetch the snapshot, so the snapshot must already be there when they see it.
 */
export async function publishSnapshot(snapshot: RegistrySnapshot, target: PublishTarget): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "registry-publish-"));
  try {
    const snapshotFile = path.join(dir, "snapshot.json");
    const versionFile = path.join(dir, "version.txt");
    await writeFile(snapshotFile, JSON.stringify(snapshot));
    await writeFile(versionFile, snapshot.version);
    await kvPut(REGISTRY_SNAPSHOT_KEY, snapshotFile, target);
    await kvPut(REGISTRY_VERSION_KEY, versionFile, target);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The version string currently in REGISTRY_KV, or undefined when nothing was published. */
export async function readPublishedVersion(target: PublishTarget): Promise<string | undefined> {
  return kvGet(REGISTRY_VERSION_KEY, target);
}

export async function readPublishedSnapshot(target: PublishTarget): Promise<string | undefined> {
  return kvGet(REGISTRY_SNAPSHOT_KEY, target);
}

async function kvPut(key: string, file: string, target: PublishTarget): Promise<void> {
  await runWrangler([
    "kv",
    "key",
    "put",
    "--binding",
    REGISTRY_KV_BINDING,
    "-c",
    WRANGLER_CONFIG,
    key,
    "--path",
    file,
    ...targetFlags(target),
  ]);
}

async function kvGet(key: string, target: PublishTarget): Promise<string | undefined> {
  const out = await runWrangler([
    "kv",
    "key",
    "get",
    "--binding",
    REGISTRY_KV_BINDING,
    "-c",
    WRANGLER_CONFIG,
    key,
    "--text",
    ...targetFlags(target),
  ]);
  // wrangler appends a newline to the value it prints; the values we write never end with one.
  const value = out.endsWith("\n") ? out.slice(0, -1) : out;
  return value === WRANGLER_MISSING_VALUE ? undefined : value;
}

/** Runs wrangler under this Node (process.execPath): wrangler refuses the system Node 20. Resolves to stdout. */
function runWrangler(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER_BIN, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`wrangler ${args.slice(0, 3).join(" ")} timed out after ${WRANGLER_TIMEOUT_MS} ms`));
    }, WRANGLER_TIMEOUT_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run wrangler (${WRANGLER_BIN}): ${err.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else {
        const output = (stderr.trim() || stdout.trim()).slice(-MAX_ERROR_OUTPUT_CHARS);
        reject(new Error(`wrangler ${args.slice(0, 3).join(" ")} exited with code ${String(code)}: ${output}`));
      }
    });
  });
}
