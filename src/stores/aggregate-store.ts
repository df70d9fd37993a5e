// L1 tier for aggregation features: the entity's EntityState Durable Object evaluates its tiles over the window ending now.
import { type AggregationPlan, aggregateObjectName, evaluateWindow, planOf, type Tile } from "../core/aggregation";
import type { ComputationType } from "../core/definitions";
import { durableObjectName, type TimedValue } from "../core/keys";
import type { EntityRef, OnlineStoreReader } from "../core/online-store";
import type { CompiledRegistry } from "../core/registry";
import type { EntityState } from "../durable/entity-state";
import { entityStateOf, pingEntityState } from "./durable-object-store";

/** An aggregate read slower than this is skipped for the request (one RPC to the entity's object). */
export const AGGREGATE_DEADLINE_MS = 250;
const SERVES: ReadonlySet<ComputationType> = new Set(["aggregation"]);

/**
 * Reads aggregation features from the entity's Durable Object, passing the compiled specs of the
 * registry it serves from. Provenance tier "durable_object": the value is the object's, computed at
 * request time; its event_timestamp is the newest event in the window. Not writable: events are
 * folded by EntityState.foldEvents, never written as values.
 */
export class AggregateFeatureStore implements OnlineStoreReader {
  readonly tier = "durable_object";
  readonly serves = SERVES;
  readonly deadlineMs = AGGREGATE_DEADLINE_MS;
  private plansOf: { version: string; plans: Map<string, AggregationPlan | undefined> } | undefined;

  constructor(
    private readonly ns: DurableObjectNamespace<EntityState>,
    private readonly registry: () => Promise<CompiledRegistry>,
  ) {}

  ping(): Promise<undefined> {
    return pingEntityState(this.ns);
  }

  /**
   * One RPC per entity, in parallel, plus one per shard of its sharded features (their tiles merged here
   * with core's evaluateWindow, at one `now` for every shard); a name the registry does not know as an
   * aggregation is left out.
   */
  async read(refs: readonly EntityRef[], features: readonly (readonly string[])[]): Promise<Record<string, TimedValue>[]> {
    const registry = await this.registry();
    return Promise.all(
      refs.map(async (ref, i) => {
        const plans = (features[i] ?? []).map((name) => this.plan(registry, name)).filter((p) => p !== undefined);
        if (plans.length === 0) return {};
        const own = plans.filter((p) => p.shards <= 1);
        const sharded = plans.filter((p) => p.shards > 1);
        if (sharded.length === 0) return entityStateOf(this.ns, ref).getAggregates(own) as Promise<Record<string, TimedValue>>;
        const [values, shardValues] = await Promise.all([
          own.length === 0 ? {} : (entityStateOf(this.ns, ref).getAggregates(own) as Promise<Record<string, TimedValue>>),
          this.readShards(ref, sharded),
        ]);
        return { ...values, ...shardValues };
      }),
    );
  }

  /** Sharded features of one entity: every shard's window tiles, merged (the same value one object would give). */
  private async readShards(ref: EntityRef, plans: readonly AggregationPlan[]): Promise<Record<string, TimedValue>> {
    const now = Date.now();
    const byShards = new Map<number, AggregationPlan[]>();
    for (const p of plans) byShards.set(p.shards, [...(byShards.get(p.shards) ?? []), p]);
    const entity = durableObjectName(ref.entityType, ref.entityId);
    const out: Record<string, TimedValue> = {};
    await Promise.all(
      [...byShards].map(async ([shards, group]) => {
        const parts = await Promise.all(
          Array.from({ length: shards }, (_, k) =>
            this.ns.get(this.ns.idFromName(aggregateObjectName(entity, shards, k))).getAggregateTiles(group, now),
          ),
        );
        for (const plan of group) {
          const value = evaluateWindow(
            plan,
            parts.flatMap((p) => (p[plan.feature] ?? []) as Tile[]),
            now,
          );
          if (value) out[plan.feature] = value;
        }
      }),
    );
    return out;
  }

  /** Plans compiled once per registry version. */
  private plan(registry: CompiledRegistry, name: string): AggregationPlan | undefined {
    if (this.plansOf?.version !== registry.version) this.plansOf = { version: registry.version, plans: new Map() };
    const cache = this.plansOf.plans;
    if (!cache.has(name)) cache.set(name, planOf(registry, name));
    return cache.get(name);
  }
}

/** The plan of a registered aggregation feature (core/aggregation.ts), re-exported for the tiers' callers. */
export { planOf } from "../core/aggregation";
