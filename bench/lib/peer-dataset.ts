// The comparison's data, shaped as the Feast rig's: group `user_features` of entity `user` (join key
// `user_id`), 50 numerical features f0..f49, users user_0..user_{N-1}; deterministic float32 values.
import type { FeatureDefinitionInput } from "../../src/core/definitions";
import { kvEntityKey } from "../../src/core/keys";
import { RegistrySnapshot } from "../../src/core/registry";
import { eventTimestamp } from "./dataset";

export const PEER_GROUP = "user_features";
export const PEER_ENTITY_TYPE = "user";
export const PEER_JOIN_KEY = "user_id";
export const PEER_FEATURES = 50;
/** Feast's view TTL in the rig is 1 day; ours-bench.yaml used 2 days. Loaded values are at most an hour old. */
const PEER_TTL_SECONDS = 172_800;
/** Values are k / 2^24: exact in float32 (what Feast stores) and in a double (what we store). */
const VALUE_DENOMINATOR = 16_777_216;

export function peerFeatureNames(count = PEER_FEATURES): string[] {
  return Array.from({ length: count }, (_, f) => `f${f}`);
}

/** `user_features:f0`…: the references both servers are asked for, byte for byte the same. */
export function peerFeatureRefs(count = PEER_FEATURES): string[] {
  return peerFeatureNames(count).map((n) => `${PEER_GROUP}:${n}`);
}

export function peerUserId(i: number): string {
  return `user_${i}`;
}

/**
 * Value of feature f of user i, in [0, 1). A float32 (24-bit mantissa) printed as JSON takes as many
 * digits as Feast's float32-from-Redis values do, so both responses are about the same size.
 */
export function peerValue(i: number, f: number): number {
  return peerValueNumerator(i, f) / VALUE_DENOMINATOR;
}

function peerValueNumerator(i: number, f: number): number {
  // Integer arithmetic below 2^53 for i < 10^6, so SQL's bigint computes the same numbers.
  return (i * 2_654_435_761 + f * 2_246_822_519 + i * f * 97) % VALUE_DENOMINATOR;
}

/**
 * The same values as a SQL jsonb expression over integer columns i and f. float8's text is the
 * shortest round-trip form (extra_float_digits = 1, Postgres ≥ 12), i.e. what JSON.stringify prints.
 */
export function peerValueSql(i: string, f: string): string {
  return `to_jsonb(((((${i})::bigint * 2654435761 + (${f})::bigint * 2246822519 + (${i})::bigint * (${f}) * 97) % ${VALUE_DENOMINATOR})::float8 / ${VALUE_DENOMINATOR})::text::numeric)`;
}

/** The user's KV row as the serving Worker reads it (src/stores/kv-store.ts): `{name: [ts, value]}`. */
export function peerKvRow(i: number, loadedAt: number, count = PEER_FEATURES): [string, string] {
  const ts = eventTimestamp(loadedAt, i);
  const row: Record<string, [number, number]> = {};
  peerFeatureNames(count).forEach((name, f) => {
    row[name] = [ts, peerValue(i, f)];
  });
  return [kvEntityKey(PEER_ENTITY_TYPE, peerUserId(i)), JSON.stringify(row)];
}

function definition(name: string, f: number): FeatureDefinitionInput {
  return {
    name,
    group: PEER_GROUP,
    entity_type: PEER_ENTITY_TYPE,
    feature_type: "numerical",
    computation_type: "batch",
    update_frequency: "1d",
    retention_days: 30,
    ttl_seconds: PEER_TTL_SECONDS,
    description: `Peer comparison feature ${f} of ${PEER_FEATURES} (a float32 in [0, 1), as the Feast rig's)`,
    owner: "bench",
    tags: ["bench", "peer"],
    null_policy: "allow",
    // A batch feature needs one; the comparison loads the tiers directly.
    source_query: `select entity_id, ${name} from bench_peer_source`,
  };
}

/**
 * The bench registry plus the peer group. The bench's `user` entity already has join key user_id;
 * the comparison's feature names (f0..f49) are distinct from the bench vectors' (ub_00…).
 */
export function withPeerGroup(base: RegistrySnapshot): RegistrySnapshot {
  const user = base.entities.find((e) => e.name === PEER_ENTITY_TYPE);
  if (user?.join_key !== PEER_JOIN_KEY)
    throw new Error(`the bench registry's ${PEER_ENTITY_TYPE} entity must have join key ${PEER_JOIN_KEY}`);
  return RegistrySnapshot.parse({
    ...base,
    version: `${base.version}-peer`,
    features: [...base.features, ...peerFeatureNames().map(definition)],
  });
}

/**
 * The request body of n uniformly random users, the rig's load.py default body byte for byte:
 * `{"features":[…],"entities":{"user_id":["user_123",…]}}`. `random` is a seeded PRNG, so two
 * servers given the same seed get the same sequence of bodies.
 */
export function peerBodyBuilder(users: number, featureCount = PEER_FEATURES): (random: () => number, n: number) => string {
  const head = `{"features":${JSON.stringify(peerFeatureRefs(featureCount))},"entities":{"${PEER_JOIN_KEY}":[`;
  return (random, n) => {
    let ids = "";
    for (let k = 0; k < n; k++) ids += `${k ? "," : ""}"${peerUserId(Math.floor(random() * users))}"`;
    return `${head}${ids}]}}`;
  };
}
