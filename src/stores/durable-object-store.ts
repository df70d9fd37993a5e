// L1 tier for stream features: the entity's EntityState Durable Object (strongly consistent, single writer).
import type { ComputationType } from "../core/definitions";
import { durableObjectName, type TimedValue } from "../core/keys";
import type { EntityRef, OnlineStore, OnlineWrite } from "../core/online-store";
import type { EntityState, FeatureWrite } from "../durable/entity-state";

/** A Durable Object read slower than this is skipped for the request (one RPC to the entity's object). */
export const DURABLE_OBJECT_DEADLINE_MS = 250;
const SERVES: ReadonlySet<ComputationType> = new Set(["stream"]);
/** The object /health calls (it stores nothing: ping only answers). */
const HEALTH_OBJECT = durableObjectName("health", "probe");

/** The entity's EntityState object (one per entity), for its stream values and its aggregate tiles. */
export function entityStateOf(ns: DurableObjectNamespace<EntityState>, ref: EntityRef) {
  return ns.get(ns.idFromName(durableObjectName(ref.entityType, ref.entityId)));
}

/** The /health round trip to the namespace: one RPC to an object that stores nothing. */
export async function pingEntityState(ns: DurableObjectNamespace<EntityState>): Promise<undefined> {
  await ns.get(ns.idFromName(HEALTH_OBJECT)).ping();
}

export class DurableObjectFeatureStore implements OnlineStore {
  readonly tier = "durable_object";
  readonly serves = SERVES;
  readonly deadlineMs = DURABLE_OBJECT_DEADLINE_MS;

  constructor(private readonly ns: DurableObjectNamespace<EntityState>) {}

  ping(): Promise<undefined> {
    return pingEntityState(this.ns);
  }

  private stub(ref: EntityRef) {
    return entityStateOf(this.ns, ref);
  }

  /** One RPC per entity, in parallel. */
  async read(refs: readonly EntityRef[], features: readonly (readonly string[])[]): Promise<Record<string, TimedValue>[]> {
    return Promise.all(refs.map((ref, i) => this.stub(ref).getFeatures([...(features[i] ?? [])]) as Promise<Record<string, TimedValue>>));
  }

  /** One RPC per entity, in parallel; the object applies last-write-wins as the single writer of its entity. */
  writeIfNewer(entries: readonly OnlineWrite[]): Promise<(string[] | Error)[]> {
    return Promise.all(
      entries.map(async (e) => {
        const writes: FeatureWrite[] = [];
        for (const [name, v] of Object.entries(e.values)) writes.push({ name, ...v });
        try {
          return (await this.stub(e.ref).putFeatures(writes)).applied;
        } catch (err) {
          return err instanceof Error ? err : new Error(String(err));
        }
      }),
    );
  }
}
