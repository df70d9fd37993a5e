// Related features of a feature: shared lineage, event sources, feature-service co-use and tags, each scored and explained.
//
// The score is a sum of weighted evidence, so the order says why: a direct lineage edge (one is
// computed from the other) outweighs aggregating the same event type, which outweighs being read
// by the same model, then reading the same source table, then sharing a tag.
import type { FeatureDefinition } from "./definitions";
import { type CompiledRegistry, upstreamFeatures } from "./registry";

export const RELATED_WEIGHTS = {
  lineage: 5,
  eventSource: 3,
  featureService: 2,
  table: 1,
  tag: 0.5,
} as const;

export interface RelatedFeature {
  name: string;
  group: string;
  score: number;
  reasons: string[];
}

/** The event types a feature is computed from (aggregation features and stream features that declare one). */
function eventSources(def: FeatureDefinition): string[] {
  const a = def.aggregation;
  return a ? [a.source_event] : [];
}

/** Every other feature with any evidence, highest score first, then by name (deterministic). */
export function relatedFeatures(registry: CompiledRegistry, def: FeatureDefinition): RelatedFeature[] {
  const upstream = new Set(upstreamFeatures(def).map((ref) => registry.resolve(ref)?.name ?? ref));
  const downstream = new Set(registry.dependents(def.name));
  const services = registry.servicesOf(def).map((s) => s.name);
  const out: RelatedFeature[] = [];
  for (const other of registry.features) {
    if (other.name === def.name) continue;
    let score = 0;
    const reasons: string[] = [];
    const add = (weight: number, reason: string) => {
      score += weight;
      reasons.push(reason);
    };
    if (upstream.has(other.name)) add(RELATED_WEIGHTS.lineage, `upstream: ${def.name} is computed from it`);
    if (downstream.has(other.name)) add(RELATED_WEIGHTS.lineage, `downstream: it is computed from ${def.name}`);
    for (const event of eventSources(def))
      if (eventSources(other).includes(event)) add(RELATED_WEIGHTS.eventSource, `aggregates the same event type: ${event}`);
    if (services.length) {
      const otherServices = new Set(registry.servicesOf(other).map((s) => s.name));
      for (const s of services) if (otherServices.has(s)) add(RELATED_WEIGHTS.featureService, `used together in feature service ${s}`);
    }
    for (const table of def.depends_on.tables)
      if (other.depends_on.tables.includes(table)) add(RELATED_WEIGHTS.table, `reads the same table: ${table}`);
    for (const tag of def.tags) if (other.tags.includes(tag)) add(RELATED_WEIGHTS.tag, `shares tag ${tag}`);
    if (score > 0) out.push({ name: other.name, group: other.group, score, reasons });
  }
  return out.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
