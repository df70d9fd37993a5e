// A minimal Redis client over raw RESP (the gateway's encoder and parser): one connection, pipelined commands.
import net from "node:net";
import { encodeCommands, type RedisCommand, RespError, RespParser, type RespValue } from "../../dev/upstash-gateway";

export class RespClient {
  private readonly waiting: { resolve: (v: RespValue) => void; reject: (e: Error) => void }[] = [];
  private readonly parser = new RespParser((value) => {
    const w = this.waiting.shift();
    if (!w) return;
    if (value instanceof RespError) w.reject(new Error(value.message));
    else w.resolve(value);
  });

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => this.parser.feed(chunk));
    socket.on("error", (err) => this.failAll(err));
    socket.on("close", () => this.failAll(new Error("redis connection closed")));
  }

  static connect(redisUrl: string): Promise<RespClient> {
    const url = new URL(redisUrl);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: url.hostname || "127.0.0.1", port: Number(url.port || 6379) });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        socket.setNoDelay(true);
        const client = new RespClient(socket);
        const db = url.pathname.replace(/^\//, "");
        const auth: RedisCommand[] = [];
        if (url.password)
          auth.push(
            url.username
              ? ["AUTH", decodeURIComponent(url.username), decodeURIComponent(url.password)]
              : ["AUTH", decodeURIComponent(url.password)],
          );
        if (db) auth.push(["SELECT", db]);
        if (auth.length === 0) resolve(client);
        else client.pipeline(auth).then(() => resolve(client), reject);
      });
    });
  }

  /** Sends the commands in one write; resolves with one reply per command. */
  pipeline(commands: readonly RedisCommand[]): Promise<RespValue[]> {
    const replies = commands.map(
      () =>
        new Promise<RespValue>((resolve, reject) => {
          this.waiting.push({ resolve, reject });
        }),
    );
    this.socket.write(encodeCommands(commands));
    return Promise.all(replies);
  }

  async command(...args: string[]): Promise<RespValue> {
    const [reply] = await this.pipeline([args]);
    return reply!;
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}
