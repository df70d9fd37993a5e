// Read-your-writes in the client: remembers what this client pushed and sends the matching token with its reads.
import type { FeatureRequest } from "../../../src/core/feature-request";
import { decodeWriteToken, type EntityWrite, encodeWriteToken, MAX_WRITE_TOKEN_ENTITIES } from "../../../src/core/write-token";

export class WriteSession {
  /** By entity id, newest last (a Map keeps insertion order): the oldest are forgotten past the token's bound. */
  private readonly writes = new Map<string, EntityWrite[]>();

  remember(token: string | undefined): void {
    for (const w of (token && decodeWriteToken(token)) || []) {
      const list = this.writes.get(w.entityId) ?? [];
      this.writes.delete(w.entityId);
      this.writes.set(w.entityId, [...list.filter((x) => x.entityType !== w.entityType), merged(list, w)]);
    }
    while (this.writes.size > MAX_WRITE_TOKEN_ENTITIES) this.writes.delete(this.writes.keys().next().value!);
  }

  /** The token for the entities a request reads (its entity and `entities`), or undefined when this client wrote none of them. */
  tokenFor(request: Pick<FeatureRequest, "entity_id" | "entities">): string | undefined {
    const ids = new Set([request.entity_id, ...Object.values(request.entities ?? {})]);
    const writes = [...ids].flatMap((id) => (id === undefined ? [] : (this.writes.get(id) ?? [])));
    return writes.length ? encodeWriteToken(writes) : undefined;
  }
}

function merged(list: readonly EntityWrite[], w: EntityWrite): EntityWrite {
  const old = list.find((x) => x.entityType === w.entityType);
  if (!old) return w;
  const features = { ...old.features };
  for (const [name, ms] of Object.entries(w.features)) features[name] = Math.max(features[name] ?? 0, ms);
  return { ...w, features };
}
