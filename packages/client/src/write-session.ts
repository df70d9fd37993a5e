// Read-your-writes in the client: remembers the write tokens of this client's pushes by the entities
// they wrote, and sends the ones of the entities a read asks for. Tokens stay opaque here: the
// server applies only the marks of the entities each read reads.

/** Tokens kept per entity (the newest), and entities remembered (the most recently written). */
const TOKENS_PER_ENTITY = 4;
const MAX_ENTITIES = 10_000;

export class WriteSession {
  /** Entity id → its newest tokens; a Map keeps insertion order, so the first key is the least recently written. */
  private readonly tokens = new Map<string, string[]>();

  remember(entityIds: Iterable<string>, token: string | undefined): void {
    if (!token) return;
    for (const id of new Set(entityIds)) {
      const list = this.tokens.get(id) ?? [];
      this.tokens.delete(id);
      this.tokens.set(id, [...list, token].slice(-TOKENS_PER_ENTITY));
    }
    while (this.tokens.size > MAX_ENTITIES) this.tokens.delete(this.tokens.keys().next().value!);
  }

  /** The tokens for the entities a request reads (its entity and `entities`); undefined when this client wrote none. */
  tokensFor(request: { entity_id: string; entities?: Partial<Record<string, string>> | undefined }): string[] | undefined {
    const ids = new Set([request.entity_id, ...Object.values(request.entities ?? {})]);
    const found = new Set<string>();
    for (const id of ids) for (const t of (id === undefined ? undefined : this.tokens.get(id)) ?? []) found.add(t);
    return found.size ? [...found] : undefined;
  }
}
