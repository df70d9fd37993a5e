// The features/*.yaml catalog: parses with the registry schema and covers the whole design document.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  ENTITY_TYPES,
  EntitiesFile,
  type EntityTypeName,
  FeatureDefinition,
  FeatureGroupFile,
  type FeatureType,
  frequencySeconds,
} from "../../src/core/definitions";
import { TRANSFORM_OUTPUT_VALUES, TRANSFORMS } from "../../src/core/transforms";
import { FEATURES_DIR } from "../../tools/paths";

const ENTITIES_FILE = "entities.yaml";
/** Event types, not a feature group (README "Streaming aggregations"). */
const EVENTS_FILE = "events.yaml";
/** Feature services, not a feature group (README "Registry workflow"). */
const SERVICES_FILE = "services.yaml";
/** The demo source tables of src/db/schema.ts: the only tables a source_query may read. */
const DEMO_TABLES = ["users", "tracks", "artists", "listening_events", "user_actions"] as const;
/** Stream values are pushed, so a short TTL is what stops a silent stream from looking fresh. */
const MAX_STREAM_TTL_SECONDS = 3600;
const CONTEXT_INPUT = /^context\.[a-z][a-z0-9_]*$/;
const FEATURE_INPUT = /^feature:([a-z][a-z0-9_]*)$/;

/** "Feature Categories" of /work/shared/seed/feature-store-design.md: name -> [group, entity, type]. */
const DESIGN_FEATURES: Readonly<Record<string, readonly [string, EntityTypeName, FeatureType]>> = {
  user_age_group: ["user_profile_features", "user", "categorical"],
  subscription_type: ["user_profile_features", "user", "categorical"],
  listening_hours_weekly: ["user_profile_features", "user", "numerical"],
  favorite_genres: ["user_profile_features", "user", "array"],
  country: ["user_profile_features", "user", "categorical"],
  device_preferences: ["user_profile_features", "user", "array"],
  recent_listening_diversity: ["user_behavior_features", "user", "numerical"],
  skip_rate_7d: ["user_behavior_features", "user", "numerical"],
  replay_rate_7d: ["user_behavior_features", "user", "numerical"],
  playlist_creation_rate: ["user_behavior_features", "user", "numerical"],
  social_sharing_frequency: ["user_behavior_features", "user", "numerical"],
  danceability: ["track_audio_features", "track", "numerical"],
  energy: ["track_audio_features", "track", "numerical"],
  valence: ["track_audio_features", "track", "numerical"],
  tempo: ["track_audio_features", "track", "numerical"],
  acousticness: ["track_audio_features", "track", "numerical"],
  genre_primary: ["track_content_features", "track", "categorical"],
  genre_secondary: ["track_content_features", "track", "categorical"],
  release_year: ["track_content_features", "track", "numerical"],
  popularity_score: ["track_content_features", "track", "numerical"],
  language: ["track_content_features", "track", "categorical"],
  popularity_tier: ["artist_features", "artist", "categorical"],
  genre_diversity: ["artist_features", "artist", "numerical"],
  collaboration_frequency: ["artist_features", "artist", "numerical"],
  career_stage: ["artist_features", "artist", "categorical"],
  time_of_day: ["session_features", "session", "categorical"],
  day_of_week: ["session_features", "session", "categorical"],
  session_duration: ["session_features", "session", "numerical"],
  device_type: ["session_features", "session", "categorical"],
  location_context: ["session_features", "session", "categorical"],
  current_playlist_context: ["interaction_features", "user", "categorical"],
  listening_source: ["interaction_features", "user", "categorical"],
  previous_track_relationship: ["interaction_features", "user", "categorical"],
  user_mood_detected: ["interaction_features", "user", "categorical"],
};

interface LoadedGroup {
  file: string;
  group: FeatureGroupFile;
  features: FeatureDefinition[];
}

/** The group-to-feature merge the registry loader will do: group/entity from the file, owner inherited, tags merged. */
function loadGroup(file: string): LoadedGroup {
  const group = FeatureGroupFile.parse(parseYaml(readFileSync(path.join(FEATURES_DIR, file), "utf8")));
  const features = group.features.map((raw, index) => {
    // A feature restating its group or entity could silently disagree with the file.
    if ("group" in raw || "entity_type" in raw) throw new Error(`${file} feature #${index}: group/entity_type come from the file`);
    const ownTags = Array.isArray(raw.tags) ? raw.tags.filter((tag): tag is string => typeof tag === "string") : [];
    const merged = {
      ...raw,
      group: group.group,
      entity_type: group.entity_type,
      owner: raw.owner ?? group.owner,
      tags: [...new Set([...group.tags, ...ownTags])],
    };
    const parsed = FeatureDefinition.safeParse(merged);
    if (!parsed.success) throw new Error(`${file} feature ${String(raw.name ?? `#${index}`)}: ${parsed.error.message}`);
    return parsed.data;
  });
  return { file, group, features };
}

const groupFiles = readdirSync(FEATURES_DIR)
  .filter((file) => file.endsWith(".yaml") && file !== ENTITIES_FILE && file !== EVENTS_FILE && file !== SERVICES_FILE)
  .sort();
const groups = groupFiles.map(loadGroup);
const catalog = groups.flatMap((g) => g.features);
const byName = new Map(catalog.map((feature) => [feature.name, feature]));

/** Mirrors the feature store's value checks, used on default values. */
function valueProblems(feature: FeatureDefinition, value: unknown): string[] {
  const problems: string[] = [];
  const inRange = (n: number) => {
    if (feature.min_value !== undefined && n < feature.min_value) problems.push(`${n} < min ${feature.min_value}`);
    if (feature.max_value !== undefined && n > feature.max_value) problems.push(`${n} > max ${feature.max_value}`);
  };
  switch (feature.feature_type) {
    case "numerical":
      if (typeof value !== "number" || !Number.isFinite(value)) problems.push("not a finite number");
      else inRange(value);
      break;
    case "categorical":
      if (typeof value !== "string") problems.push("not a string");
      else if (!feature.allowed_values?.includes(value)) problems.push(`"${value}" not in allowed_values`);
      break;
    case "array":
      if (!Array.isArray(value)) {
        problems.push("not an array");
        break;
      }
      for (const item of value as unknown[]) {
        if (feature.item_type === "number" && typeof item !== "number") problems.push(`item ${String(item)} not a number`);
        if (feature.item_type === "string" && typeof item !== "string") problems.push(`item ${String(item)} not a string`);
        if (feature.allowed_values && !feature.allowed_values.includes(String(item))) problems.push(`item ${String(item)} not allowed`);
      }
      break;
    case "embedding":
      if (!Array.isArray(value) || value.length !== feature.dimension || value.some((x) => typeof x !== "number"))
        problems.push(`not ${feature.dimension} numbers`);
      break;
  }
  return problems;
}

describe("features/entities.yaml", () => {
  const entities = EntitiesFile.parse(parseYaml(readFileSync(path.join(FEATURES_DIR, ENTITIES_FILE), "utf8"))).entities;

  it("declares every entity type once, with join key and id prefix", () => {
    expect(entities.map((e) => e.name).sort()).toEqual([...ENTITY_TYPES].sort());
    for (const entity of entities) {
      expect(entity.join_key).toBe(`${entity.name}_id`);
      expect(entity.id_prefix).toBe(`${entity.name}_`);
    }
  });
});

describe("features/*.yaml catalog", () => {
  it("has one file per group, named after it", () => {
    expect(groups.length).toBeGreaterThanOrEqual(7);
    for (const { file, group } of groups) expect(file).toBe(`${group.group}.yaml`);
  });

  it("contains every feature of the design document with its group, entity and type", () => {
    for (const [name, [group, entity, type]] of Object.entries(DESIGN_FEATURES)) {
      const feature = byName.get(name);
      expect(feature, name).toBeDefined();
      expect([feature?.group, feature?.entity_type, feature?.feature_type], name).toEqual([group, entity, type]);
    }
  });

  it("has unique feature names", () => {
    const names = catalog.map((f) => f.name);
    expect(names.length).toBe(new Set(names).size);
  });

  it("gives every feature a description, a team owner and tags", () => {
    for (const f of catalog) {
      expect(f.description.trim().length, f.name).toBeGreaterThan(10);
      expect(f.owner, f.name).toMatch(/^[a-z0-9.-]+@echotune\.fm$/);
      expect(f.tags.length, f.name).toBeGreaterThan(0);
    }
  });

  it("types string arrays", () => {
    for (const f of catalog.filter((f) => f.feature_type === "array")) expect(f.item_type, f.name).toBe("string");
  });

  it("lists non-empty, duplicate-free allowed_values for every categorical", () => {
    for (const f of catalog.filter((f) => f.feature_type === "categorical")) {
      expect(f.allowed_values?.length, f.name).toBeGreaterThan(0);
      expect(new Set(f.allowed_values).size, f.name).toBe(f.allowed_values?.length);
    }
  });

  it("gives every default value that satisfies its own feature's rules", () => {
    const defaulted = catalog.filter((f) => f.null_policy === "default");
    expect(defaulted.length).toBeGreaterThan(0);
    for (const f of defaulted) expect(valueProblems(f, f.default_value), f.name).toEqual([]);
    for (const f of catalog.filter((f) => f.null_policy !== "default")) expect(f.default_value, f.name).toBeUndefined();
  });

  it("uses all three null policies", () => {
    expect(new Set(catalog.map((f) => f.null_policy))).toEqual(new Set(["allow", "default", "reject"]));
  });

  it("bounds the numerical features that have a natural range", () => {
    const bounded: Readonly<Record<string, readonly [number, number]>> = {
      skip_rate_7d: [0, 1],
      replay_rate_7d: [0, 1],
      danceability: [0, 1],
      energy: [0, 1],
      valence: [0, 1],
      acousticness: [0, 1],
      tempo: [0, 250],
      release_year: [1900, 2030],
      popularity_score: [0, 100],
      listening_hours_weekly: [0, 168],
      user_track_genre_affinity: [0, 1],
    };
    for (const [name, range] of Object.entries(bounded)) {
      const f = byName.get(name);
      expect([f?.min_value, f?.max_value], name).toEqual([...range]);
    }
  });

  describe("batch features", () => {
    const batch = catalog.filter((f) => f.computation_type === "batch");

    it("refresh on a schedule, and outlive it so a late run does not blank the feature", () => {
      for (const f of batch) {
        expect(f.update_frequency, f.name).toMatch(/^\d+[hd]$/);
        expect(f.ttl_seconds, f.name).toBeGreaterThan(frequencySeconds(f.update_frequency));
      }
    });

    it("select entity_id and value, with no parameters or statement terminators", () => {
      for (const f of batch) {
        const sql = f.source_query ?? "";
        expect(sql, f.name).toMatch(/\bAS entity_id\b/);
        expect(sql, f.name).toMatch(/\bAS value\b/);
        // The materialiser wraps the query as a sub-select: a ";" or a ":name" placeholder would break it.
        // (A POSIX class such as [[:space:]] is not a placeholder.)
        expect(sql, f.name).not.toMatch(/;|(?<![:[]):[a-z_]|--/i);
      }
    });

    it("read only demo tables, and list exactly the tables they read in depends_on", () => {
      for (const f of batch) {
        const sql = f.source_query ?? "";
        const read = DEMO_TABLES.filter((table) => new RegExp(`\\b(FROM|JOIN)\\s+${table}\\b`, "i").test(sql));
        expect([...f.depends_on.tables].sort(), f.name).toEqual([...read].sort());
      }
    });
  });

  describe("stream features", () => {
    const stream = catalog.filter((f) => f.computation_type === "stream");

    it("exist for users", () => {
      expect(new Set(stream.map((f) => f.entity_type))).toEqual(new Set(["user"]));
    });

    it("are realtime, short-lived, pushed (no source_query) and never described as an aggregation we do not compute", () => {
      for (const f of stream) {
        expect(f.update_frequency, f.name).toBe("realtime");
        expect(f.ttl_seconds, f.name).toBeLessThanOrEqual(MAX_STREAM_TTL_SECONDS);
        expect(f.aggregation, f.name).toBeUndefined();
        expect(f.source_query, f.name).toBeUndefined();
      }
    });
  });

  describe("aggregation features (issue 14, catalog)", () => {
    const aggregation = catalog.filter((f) => f.computation_type === "aggregation");
    const eventTypes = (parseYaml(readFileSync(path.join(FEATURES_DIR, EVENTS_FILE), "utf8")) as { event_types: { name: string }[] })
      .event_types;

    it("compute the design's behaviour and session features, the hourly counters and a track trending count from events", () => {
      const expected: Readonly<Record<string, [EntityTypeName, string, string]>> = {
        skip_rate_7d: ["user", "ratio", "7d"],
        replay_rate_7d: ["user", "ratio", "7d"],
        recent_listening_diversity: ["user", "distinct_count", "7d"],
        playlist_creation_rate: ["user", "count", "7d"],
        social_sharing_frequency: ["user", "count", "7d"],
        tracks_played_1h: ["user", "count", "1h"],
        skips_1h: ["user", "sum", "1h"],
        tracks_in_session: ["session", "count", "12h"],
        session_duration: ["session", "sum", "12h"],
        track_plays_1h: ["track", "count", "1h"],
      };
      for (const [name, [entity, fn, window]] of Object.entries(expected)) {
        const f = byName.get(name);
        expect(f?.computation_type, name).toBe("aggregation");
        expect([f?.entity_type, f?.aggregation?.function, f?.aggregation?.window], name).toEqual([entity, fn, window]);
      }
    });

    it("read a declared event type, are realtime, never say they are pushed", () => {
      const known = new Set(eventTypes.map((e) => e.name));
      for (const f of aggregation) {
        expect(known.has(f.aggregation?.source_event ?? ""), f.name).toBe(true);
        expect(f.update_frequency, f.name).toBe("realtime");
        expect(f.description, f.name).not.toMatch(/push|stream processor/i);
      }
    });

    it("give counts and sums a floor of 0 and counters a default of 0", () => {
      for (const f of aggregation.filter((f) => ["count", "sum", "distinct_count"].includes(f.aggregation?.function ?? ""))) {
        expect(f.min_value, f.name).toBe(0);
        if (f.aggregation?.function === "count") expect([f.null_policy, f.default_value], f.name).toEqual(["default", 0]);
      }
    });
  });

  describe("on-demand features", () => {
    const onDemand = catalog.filter((f) => f.computation_type === "on_demand");

    it("are realtime with a short TTL", () => {
      for (const f of onDemand) {
        expect(f.update_frequency, f.name).toBe("realtime");
        expect(f.ttl_seconds, f.name).toBeLessThanOrEqual(300);
      }
    });

    it("name a registered transform and only inputs it reads", () => {
      for (const f of onDemand) {
        const name = f.transform?.name ?? "";
        expect(Object.hasOwn(TRANSFORMS, name), `${f.name} -> ${name}`).toBe(true);
        const declared = TRANSFORMS[name]?.inputs ?? [];
        for (const input of f.transform?.inputs ?? []) {
          expect(CONTEXT_INPUT.test(input) || FEATURE_INPUT.test(input), `${f.name}: ${input}`).toBe(true);
          expect(declared, `${f.name}: ${input}`).toContain(input);
        }
      }
    });

    it("reference stored features of the same entity, recorded in depends_on", () => {
      for (const f of onDemand) {
        for (const input of f.transform?.inputs ?? []) {
          const ref = FEATURE_INPUT.exec(input)?.[1];
          if (ref === undefined) continue;
          const source = byName.get(ref);
          expect(source, `${f.name} -> ${ref}`).toBeDefined();
          expect(source?.entity_type, `${f.name} -> ${ref}`).toBe(f.entity_type);
          expect(source?.computation_type, `${f.name} -> ${ref}`).not.toBe("on_demand");
          expect(f.depends_on.features, f.name).toContain(ref);
        }
      }
    });

    it("allow exactly the categorical values their transform can return", () => {
      for (const f of onDemand.filter((f) => f.feature_type === "categorical")) {
        const outputs = TRANSFORM_OUTPUT_VALUES[f.transform?.name ?? ""];
        expect(outputs, f.name).toBeDefined();
        expect([...(f.allowed_values ?? [])].sort(), f.name).toEqual([...(outputs ?? [])].sort());
      }
    });
  });

  it("includes user_track_genre_affinity on favorite_genres", () => {
    const f = byName.get("user_track_genre_affinity");
    expect(f?.computation_type).toBe("on_demand");
    expect(f?.transform?.name).toBe("genre_affinity");
    expect(f?.transform?.inputs).toContain("feature:favorite_genres");
  });

  it("keeps genre vocabularies identical wherever genres appear", () => {
    const genreFeatures = ["favorite_genres", "genre_primary", "genre_secondary"].map((n) => byName.get(n)?.allowed_values);
    expect(genreFeatures[0]?.length).toBeGreaterThan(0);
    for (const values of genreFeatures) expect(values).toEqual(genreFeatures[0]);
    expect(byName.get("device_preferences")?.allowed_values).toEqual(byName.get("device_type")?.allowed_values);
  });
});
