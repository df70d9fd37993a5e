// Publishes a registry snapshot to the REGISTRY_KV namespace with wrangler (local persistence or Cloudflare).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { REGISTRY_SNAPSHOT_KEY, REGISTRY_VERSION_KEY } from "../../src/core/keys";
import type { RegistrySnapshot } from "../../src/core/registry";
import { SERVING_WRANGLER_CONFIG, WRANGLER_PERSIST_DIR } from "../paths";
import { runWrangler } from "../wrangler";

const REGISTRY_KV_BINDING = "REGISTRY_KV";

export type PublishTarget = { kind: "local"; persistTo?: string; env?: string } | { kind: "remote"; env?: string };

export function describeTarget(target: PublishTarget): string {
  const env = target.env ? ` (env ${target.env})` : "";
  if (target.kind === "remote") return `Cloudflare KV${env}`;
  const dir = target.persistTo ?? WRANGLER_PERSIST_DIR;
  const shown = path.relative(process.cwd(), dir);
  return `local KV in ${shown && !shown.startsWith("..") ? shown : dir}${env}`;
}

function targetFlags(target: PublishTarget): string[] {
  const flags = target.kind === "remote" ? ["--remote"] : ["--local", "--persist-to", target.persistTo ?? WRANGLER_PERSIST_DIR];
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

async function kvPut(key: string, file: string, target: PublishTarget): Promise<void> {
  await runWrangler([
    "kv",
    "key",
    "put",
    "--binding",
    REGISTRY_KV_BINDING,
    "-c",
    SERVING_WRANGLER_CONFIG,
    key,
    "--path",
    file,
    ...targetFlags(target),
  ]);
}
