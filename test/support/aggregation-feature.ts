// One builder of test aggregation features (a count over listening events in 1h/1m tiles unless told otherwise).
import { FeatureDefinition, type FeatureDefinitionInput } from "../../src/core/definitions";

export function aggregationFeature(
  name: string,
  aggregation: Record<string, unknown> = {},
  extra: Partial<FeatureDefinitionInput> = {},
): FeatureDefinition {
  return FeatureDefinition.parse({
    name,
    group: "test_aggregates",
    entity_type: "user",
    feature_type: "numerical",
    computation_type: "aggregation",
    update_frequency: "realtime",
    retention_days: 30,
    ttl_seconds: 3600,
    description: "test aggregate",
    owner: "tests",
    ...extra,
    aggregation: { source_event: "listening_event", function: "count", window: "1h", tile: "1m", ...aggregation },
  });
}
