// Shared plumbing of the dev tools' command lines: "am I the entry module", and close-on-Ctrl-C.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** True when the module at `metaUrl` is the script node was started with (symlinks resolved). */
export function isMainModule(metaUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(metaUrl));
  } catch (err) {
    // An entry path that no longer resolves cannot be this module.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** Closes `resource` on SIGINT/SIGTERM and exits 0, or 1 if closing fails. */
export function closeOnSignal(name: string, resource: { close(): Promise<void> }): void {
  const shutdown = (): void => {
    resource.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[${name}] error during shutdown`, err);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

/** Runs `main` when this module is the entry point; a failure is one line on stderr and exit 1. */
export function runIfMain(name: string, metaUrl: string, main: () => Promise<void>): void {
  if (!isMainModule(metaUrl)) return;
  main().catch((err: unknown) => {
    console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
