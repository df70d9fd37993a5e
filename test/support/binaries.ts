// Whether a command-line tool the tests drive for real (prometheus, promtool) is installed; a skip says so loudly.
import { execFileSync } from "node:child_process";

export function hasBinary(name: string, what: string): boolean {
  try {
    execFileSync(name, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    console.warn(`\n!!! SKIPPING ${what}: \`${name}\` is not installed (apt-get install -y prometheus) !!!\n`);
    return false;
  }
}
