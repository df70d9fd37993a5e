// Where things are in the checkout: the one PROJECT_ROOT of the tooling, dev stack, scripts, bench and tests.
import path from "node:path";

export const PROJECT_ROOT = path.resolve(import.meta.dirname, "..");
/** Local state of the dev stack, the bench and the tests (git-ignored). */
export const DATA_DIR = path.join(PROJECT_ROOT, ".data");
/** The YAML catalog of feature definitions. */
export const FEATURES_DIR = path.join(PROJECT_ROOT, "features");
/** drizzle-kit's migrations. */
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, "drizzle");
/** The serving Worker's wrangler config (its REGISTRY_KV is where registry snapshots are published). */
export const SERVING_WRANGLER_CONFIG = path.join(PROJECT_ROOT, "wrangler.toml");
/** wrangler's CLI, run under this Node (process.execPath): wrangler refuses the system Node 20. */
export const WRANGLER_BIN = path.join(PROJECT_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
/** tsx's CLI, to run a TypeScript entry point as a child process. */
export const TSX_BIN = path.join(PROJECT_ROOT, "node_modules", "tsx", "dist", "cli.mjs");
/** Local KV/DO/Queue state, shared by `npm run dev` and `wrangler ... --local --persist-to .data/wrangler` (registry apply). */
export const WRANGLER_PERSIST_DIR = path.join(DATA_DIR, "wrangler");
