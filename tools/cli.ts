// The command lines' shared entry plumbing: "am I the entry module", exit codes, close-on-Ctrl-C.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { errorMessage } from "../src/core/errors";
import { log } from "../src/core/log";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
/** A mistake in the command line, as other CLIs do. */
export const EXIT_USAGE = 2;

/** A mistake in the command line: one line on stderr and exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** parseArgs reports unknown or malformed options as a TypeError with an ERR_PARSE_ARGS_* code. */
export function isParseArgsError(err: unknown): boolean {
  return err instanceof TypeError && String((err as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS");
}

/** The exit code of a failure: usage mistakes 2, anything else 1. */
function exitCodeOf(err: unknown): number {
  return err instanceof UsageError || isParseArgsError(err) ? EXIT_USAGE : EXIT_FAILED;
}

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
      () => process.exit(EXIT_OK),
      (err: unknown) => {
        log("error", "shutdown_failed", { tool: name, error: errorMessage(err) });
        process.exit(EXIT_FAILED);
      },
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

/**
 * Runs `main` when this module is the entry point. An exit code it returns ends the process with it;
 * returning nothing leaves the process running (a server that closes on a signal). A failure is one
 * line `name: message` on stderr (no stack trace) and exit code 2 for usage mistakes, else 1.
 */
export function runIfMain(name: string, metaUrl: string, main: () => Promise<unknown>): void {
  if (!isMainModule(metaUrl)) return;
  main().then(
    (code) => {
      if (typeof code === "number") process.exit(code);
    },
    (err: unknown) => {
      console.error(`${name}: ${errorMessage(err, { sqlState: false })}`);
      process.exit(exitCodeOf(err));
    },
  );
}
