// A loopback TCP proxy the chaos run puts in front of Postgres and Redis: up, down (refuse and cut every connection) or slow (delay every chunk).
import net from "node:net";

export type ProxyMode = { kind: "up" } | { kind: "down" } | { kind: "slow"; delayMs: number };

export interface TcpProxy {
  port: number;
  mode(): ProxyMode;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:<port> to target; `down` destroys open connections and refuses new ones (like a stopped server). */
export async function startTcpProxy(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
  let mode: ProxyMode = { kind: "up" };
  const sockets = new Set<net.Socket>();
  const delayed = (to: net.Socket) => (chunk: Buffer) => {
    if (mode.kind === "slow") {
      const copy = Buffer.from(chunk);
      setTimeout(() => to.destroyed || to.write(copy), mode.delayMs);
    } else if (!to.destroyed) to.write(chunk);
  };
  const server = net.createServer((client) => {
    if (mode.kind === "down") {
      client.destroy();
      return;
    }
    const upstream = net.connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      // A cut connection is the fault being injected; both ends just close.
      s.on("error", () => undefined);
    }
    client.on("data", delayed(upstream));
    upstream.on("data", delayed(client));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    mode: () => mode,
    setMode(next) {
      mode = next;
      if (next.kind === "down") for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
