// Workers pick up a newly applied registry from KV within REGISTRY_REFRESH_MS, without a restart.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { REGISTRY_SNAPSHOT_KEY, REGISTRY_VERSION_KEY } from "../../src/core/keys";
import { REGISTRY_REFRESH_MS, RegistryStore } from "../../src/stores/registry-store";
import { get, publishRegistry, snapshot } from "./support";

describe("registry snapshot reload", () => {
  it("serves the new definition within the refresh bound, with one KV read per check", async () => {
    const base = snapshot();
    await publishRegistry(base);
    let now = 1_000_000;
    const store = new RegistryStore(env.REGISTRY_KV, undefined, () => now);
    const first = await store.get();
    expect(first.version).toBe(base.version);
    expect(first.resolve("listening_hours_weekly")?.ttl_seconds).toBe(43200);

    const changed = {
      ...base,
      version: "r-changed",
      features: base.features.map((f) => (f.name === "listening_hours_weekly" ? { ...f, ttl_seconds: 7200 } : f)),
    };
    await publishRegistry(changed);
    now += REGISTRY_REFRESH_MS - 1;
    expect((await store.get()).version).toBe(base.version); // inside the bound: cached, no KV read
    now += 2;
    const reloaded = await store.get();
    expect(reloaded.version).toBe("r-changed");
    expect(reloaded.resolve("listening_hours_weekly")?.ttl_seconds).toBe(7200);
  });

  it("keeps the last good registry when KV holds an invalid snapshot", async () => {
    await publishRegistry(snapshot());
    let now = 0;
    const store = new RegistryStore(env.REGISTRY_KV, undefined, () => now);
    expect((await store.get()).version).toBe("r-test");
    await env.REGISTRY_KV.put(REGISTRY_SNAPSHOT_KEY, JSON.stringify({ nonsense: true }));
    await env.REGISTRY_KV.put(REGISTRY_VERSION_KEY, "r-broken");
    now += REGISTRY_REFRESH_MS + 1;
    expect((await store.get()).version).toBe("r-test");
  });

  it("the running Worker reports the loaded version in /health and /registry/features", async () => {
    await publishRegistry(snapshot());
    const list = (await (await get("/registry/features")).json()) as { registry_version: string; count: number };
    expect(list.registry_version).toBe("r-test");
    expect(list.count).toBe(snapshot().features.length);
  });
});
