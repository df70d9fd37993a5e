// The real catalog (features/) as a registry snapshot, so tests serve exactly what features/ defines.
import type { RegistrySnapshot } from "../../src/core/registry";
import { FEATURES_DIR } from "../../tools/paths";
import { loadDefinitions } from "../../tools/registry/load-definitions";

export function catalogSnapshot(version: string): RegistrySnapshot {
  const loaded = loadDefinitions(FEATURES_DIR);
  if (loaded.errors.length) throw new Error(`features/ does not validate: ${loaded.errors.length} errors`);
  return {
    version,
    version_number: 1,
    applied_at: new Date().toISOString(),
    author: "test",
    entities: loaded.entities,
    features: loaded.features,
    event_types: loaded.eventTypes,
    feature_services: loaded.featureServices,
  };
}
