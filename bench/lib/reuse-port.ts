// Builds the SO_REUSEPORT shim (reuse-port.c) and a workerd wrapper that preloads it, for
// --ours-processes: Miniflare starts whatever MINIFLARE_WORKERD_PATH names, so the wrapper is how
// several workerd processes come to share the serving Worker's port.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { errorMessage } from "../../src/core/errors";

const SOURCE = path.join(import.meta.dirname, "reuse-port.c");

/** The real workerd binary Miniflare would start (the `workerd` package's export). */
function workerdBinary(): string {
  const require = createRequire(import.meta.url);
  return (createRequire(require.resolve("miniflare"))("workerd") as { default: string }).default;
}

/**
 * Compiles the shim into `buildDir` (again only when the source is newer) and writes a wrapper
 * script that runs workerd with it preloaded. Returns the wrapper's path, for MINIFLARE_WORKERD_PATH.
 * Throws with a plain message when no C compiler is installed.
 */
export function reusePortWorkerd(buildDir: string): string {
  mkdirSync(buildDir, { recursive: true });
  const lib = path.join(buildDir, "reuse-port.so");
  if (!existsSync(lib) || statSync(lib).mtimeMs < statSync(SOURCE).mtimeMs) {
    try {
      execFileSync("cc", ["-shared", "-fPIC", "-O2", "-o", lib, SOURCE, "-ldl"], { stdio: ["ignore", "ignore", "pipe"] });
    } catch (err) {
      throw new Error(`--ours-processes needs a C compiler (cc) to build ${path.basename(SOURCE)}: ${errorMessage(err)}`);
    }
  }
  const wrapper = path.join(buildDir, "workerd-reuse-port.sh");
  writeFileSync(wrapper, `#!/bin/sh\nLD_PRELOAD=${JSON.stringify(lib)} exec ${JSON.stringify(workerdBinary())} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}
