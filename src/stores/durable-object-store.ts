// L1 tier for stream features: the entity's EntityState Durable Object (strongly consistent, single writer).
import { durableObjectName, type TimedValue } from "../core/keys";
import type { EntityState, FeatureWrite, WriteResult } from "../durable/entity-state";
import type { EntityRef } from "./redis-store";

export class DurableObjectFeatureStore {
  constructor(private readonly ns: DurableObjectNamespace<EntityState>) {}

  private stub(ref: EntityRef) {
    return this.ns.get(this.ns.idFromName(durableObjectName(ref.entityType, ref.entityId)));
  }

  async getMany(refs: EntityRef[], fields: string[][]): Promise<Record<string, TimedValue>[]> {
    return Promise.all(refs.map((ref, i) => this.stub(ref).getFeatures(fields[i] ?? []) as Promise<Record<string, TimedValue>>));
  }

  async put(ref: EntityRef, writes: FeatureWrite[]): Promise<WriteResult> {
    return (await this.stub(ref).putFeatures(writes)) as WriteResult;
  }
}
