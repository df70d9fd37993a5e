// Child process of the bench: the Neon WebSocket relay and the Upstash REST gateway, kept out of the
// load generator's event loop (in production both are remote services, not the client's process).
// Prints one JSON line with their URLs when ready; exits when its parent closes stdin or sends SIGTERM.

import { startRelay } from "../../dev/services";
import { startUpstashGateway } from "../../dev/upstash-gateway";
import { closeOnSignal, runIfMain } from "../../tools/cli";

interface ChildInput {
  databaseUrl: string;
  redisUrl: string | null;
  redisToken: string;
  relayPort: number;
  gatewayPort: number;
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? "{}") as ChildInput;
  const relay = await startRelay(input.databaseUrl, input.relayPort);
  const gateway = input.redisUrl
    ? await startUpstashGateway({ redisUrl: input.redisUrl, token: input.redisToken, port: input.gatewayPort })
    : undefined;
  const services = {
    close: async () => {
      await Promise.allSettled([relay.close(), gateway?.close()]);
    },
  };
  closeOnSignal("bench services", services);
  process.stdin.on("end", () => void services.close().then(() => process.exit(0)));
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ relayPort: relay.port, gatewayUrl: gateway?.url ?? null })}\n`);
}

runIfMain("bench services failed", import.meta.url, main);
