// `registry export-feast`: the catalog as a Feast repo whose Python parses and names what the Worker serves.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { FEATURES_DIR } from "../../tools/paths";
import { FEAST_URL_FROM_ENV, feastDtype, feastRepoFiles } from "../../tools/registry/export-feast";
import { loadDefinitions } from "../../tools/registry/load-definitions";

const loaded = loadDefinitions(FEATURES_DIR);
const files = feastRepoFiles(loaded.entities, loaded.features, { services: loaded.featureServices });
const repo = files["repo.py"]!;

describe("export-feast", () => {
  it("loads the catalog without errors (the export's input)", () => {
    expect(loaded.errors).toEqual([]);
  });

  it("writes feature_store.yaml for the remote online store with a Bearer key from the environment", () => {
    expect(files["feature_store.yaml"]).toContain("type: remote");
    expect(files["feature_store.yaml"]).toContain(`path: ${FEAST_URL_FROM_ENV}`);
    expect(FEAST_URL_FROM_ENV).toBe("$" + "{FEATURE_STORE_URL}");
    expect(files["feature_store.yaml"]).toContain("token_env_var: FEATURE_STORE_API_KEY");
    expect(feastRepoFiles(loaded.entities, loaded.features, { url: "http://127.0.0.1:8787" })["feature_store.yaml"]).toContain(
      "path: http://127.0.0.1:8787",
    );
  });

  it("declares every entity, every group with stored features as a view, and every on-demand feature", () => {
    for (const e of loaded.entities) expect(repo).toContain(`Entity(name="${e.name}", join_keys=["${e.join_key}"]`);
    for (const f of loaded.features) expect(repo).toContain(`Field(name="${f.name}", dtype=${feastDtype(f)}`);
    const groups = new Set(loaded.features.filter((f) => f.computation_type !== "on_demand").map((f) => f.group));
    for (const g of groups) expect(repo).toContain(`${g} = FeatureView(\n    name="${g}",`);
    // session_features has stored and on-demand features: its on-demand view takes the suffix.
    expect(repo).toContain('name="session_features_on_demand"');
  });

  it("defines each view before an on-demand view reads it, and never a join key as request data", () => {
    const at = (s: string) => repo.indexOf(s);
    expect(at("user_profile_features = FeatureView(")).toBeLessThan(at('name="interaction_features",'));
    expect(repo).not.toMatch(/RequestSource\([^)]*Field\(name="track_id"/s);
  });

  it("declares a push source per group that takes writes, and every feature service as projections of its views", () => {
    expect(repo).toContain('user_behavior_features_push = PushSource(name="user_behavior_features_push", batch_source=_offline)');
    expect(repo).toContain("    source=user_behavior_features_push,");
    for (const s of loaded.featureServices) {
      expect(repo).toContain(`${s.name} = FeatureService(\n    name="${s.name}",`);
      for (const ref of s.features) expect(repo).toContain(`"${ref.slice(ref.indexOf(":") + 1)}"`);
    }
    expect(repo).toMatch(
      /name="skip_predictor_v1",\n {4}features=\[user_behavior_features\[\["skip_rate_7d", "skips_1h", "tracks_played_1h"\]\], user_profile_features\[\[/,
    );
  });

  it("is valid Python", () => {
    const py = spawnSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"], { input: repo, encoding: "utf8" });
    expect(py.stderr).toBe("");
    expect(py.status).toBe(0);
  });
});
