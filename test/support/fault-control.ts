// A Redis gateway and a Postgres relay that tests can stop and restart over HTTP, to break tiers for real.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type PgWsRelay, startPgWsRelay } from "../../dev/pg-ws-relay";
import { startUpstashGateway, type UpstashGateway } from "../../dev/upstash-gateway";

export interface FaultControl {
  controlUrl: string;
  redisRestUrl: string;
  redisToken: string;
  relay: string;
  close(): Promise<void>;
}

export async function startFaultControl(opts: { redisUrl: string | undefined; token: string }): Promise<FaultControl> {
  let gateway: UpstashGateway | undefined = opts.redisUrl
    ? await startUpstashGateway({ redisUrl: opts.redisUrl, token: opts.token, port: 0 })
    : undefined;
  const gatewayPort = gateway?.port ?? 0;
  let relay: PgWsRelay | undefined = await startPgWsRelay({ port: 0 });
  const relayPort = relay.port;

  const actions: Record<string, () => Promise<void>> = {
    "/redis/down": async () => {
      await gateway?.close();
      gateway = undefined;
    },
    "/redis/up": async () => {
      if (!gateway && opts.redisUrl) gateway = await startUpstashGateway({ redisUrl: opts.redisUrl, token: opts.token, port: gatewayPort });
    },
    "/postgres/down": async () => {
      await relay?.close();
      relay = undefined;
    },
    "/postgres/up": async () => {
      relay ??= await startPgWsRelay({ port: relayPort });
    },
  };
  const server = http.createServer((req, res) => {
    const action = actions[req.url ?? ""];
    if (!action || req.method !== "POST") {
      res.writeHead(404).end();
      return;
    }
    action().then(
      () => res.writeHead(204).end(),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    controlUrl: `http://127.0.0.1:${port}`,
    redisRestUrl: `http://127.0.0.1:${gatewayPort}`,
    redisToken: opts.token,
    relay: `127.0.0.1:${relayPort}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway?.close();
      await relay?.close();
    },
  };
}
