// Where the admin scripts find the running stack: env vars first, else the file `npm run dev` writes.
import { readFileSync } from "node:fs";
import path from "node:path";
import { DATA_DIR } from "./paths";

export const DEV_STACK_FILE = path.join(DATA_DIR, "dev-stack.json");

export interface DevStackInfo {
  pid: number;
  databaseUrl: string;
  postgresSource: string;
  redisUrl: string | null;
  redisRestUrl: string | null;
  redisRestToken: string | null;
  redisKeyPrefix: string;
  servingUrl: string;
  ingestUrl: string;
  devApiKey: string;
  startedAt: string;
}

export function readDevStack(): DevStackInfo | undefined {
  try {
    return JSON.parse(readFileSync(DEV_STACK_FILE, "utf8")) as DevStackInfo;
  } catch {
    // No file simply means `npm run dev` is not running (or never ran); callers fall back to env.
    return undefined;
  }
}

/** DATABASE_URL, else the running dev stack's Postgres; exits with a clear message when neither exists. */
export function requireDatabaseUrl(): string {
  const url = process.env.DATABASE_URL ?? readDevStack()?.databaseUrl;
  if (!url) {
    console.error(
      "No database: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) or start the stack with `npm run dev`.",
    );
    process.exit(2);
  }
  return url;
}

export interface StackEndpoints {
  servingUrl: string;
  ingestUrl: string;
  apiKey: string;
}

/** SERVING_URL, INGEST_URL and FEATURE_STORE_API_KEY, each else the running dev stack's; throws when one is missing. */
export function stackEndpoints(): StackEndpoints {
  const stack = readDevStack();
  const servingUrl = process.env.SERVING_URL ?? stack?.servingUrl;
  const ingestUrl = process.env.INGEST_URL ?? stack?.ingestUrl;
  const apiKey = process.env.FEATURE_STORE_API_KEY ?? stack?.devApiKey;
  if (!servingUrl || !ingestUrl || !apiKey)
    throw new Error("no running stack: start `npm run dev` or set SERVING_URL, INGEST_URL and FEATURE_STORE_API_KEY");
  return { servingUrl, ingestUrl, apiKey };
}
