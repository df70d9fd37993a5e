// Feature lineage: upstream tables and features (recursively) and downstream dependents, as data and as a tree.
import type { FeatureDefinition } from "../../src/core/definitions";
import { type CompiledRegistry, upstreamFeatures } from "../../src/core/registry";
import { tablesReadBy } from "./source-tables";

export interface LineageNode {
  kind: "feature" | "table";
  name: string;
  group?: string;
  computation?: string;
  children: LineageNode[];
  /** Already shown higher up on this path: not expanded again. */
  cycle?: boolean;
}

export interface Lineage {
  feature: FeatureDefinition;
  upstream: LineageNode[];
  downstream: LineageNode[];
}

export interface LineageSummary {
  /** Every table the feature depends on, directly or through upstream features. */
  tables: string[];
  /** Every upstream feature, transitively. */
  features: string[];
  /** Every feature that depends on this one, transitively. */
  dependents: string[];
}

/** Tables a feature reads itself: declared depends_on.tables plus what its source_query reads. */
export function directTables(f: FeatureDefinition): string[] {
  const tables = new Set(f.depends_on.tables);
  if (f.source_query) for (const t of tablesReadBy(f.source_query)) tables.add(t);
  return [...tables];
}

const featureNode = (f: FeatureDefinition, children: LineageNode[], cycle = false): LineageNode => ({
  kind: "feature",
  name: f.name,
  group: f.group,
  computation: f.computation_type,
  children,
  ...(cycle ? { cycle } : {}),
});

export function lineageOf(registry: CompiledRegistry, feature: FeatureDefinition): Lineage {
  const up = (f: FeatureDefinition, path: ReadonlySet<string>): LineageNode[] => {
    const nodes: LineageNode[] = [];
    for (const ref of upstreamFeatures(f)) {
      const target = registry.resolve(ref);
      if (!target) {
        nodes.push({ kind: "feature", name: `${ref} (unresolved)`, children: [] });
        continue;
      }
      if (path.has(target.name)) nodes.push(featureNode(target, [], true));
      else nodes.push(featureNode(target, up(target, new Set([...path, target.name]))));
    }
    for (const table of directTables(f)) nodes.push({ kind: "table", name: table, children: [] });
    return nodes;
  };
  const down = (name: string, path: ReadonlySet<string>): LineageNode[] =>
    [...registry.dependents(name)].sort().flatMap((dep) => {
      const f = registry.resolve(dep);
      if (!f) return [];
      return path.has(f.name) ? [featureNode(f, [], true)] : [featureNode(f, down(f.name, new Set([...path, f.name])))];
    });
  const start = new Set([feature.name]);
  return { feature, upstream: up(feature, start), downstream: down(feature.name, start) };
}

export function summarizeLineage(lineage: Lineage): LineageSummary {
  const tables = new Set<string>();
  const features = new Set<string>();
  const dependents = new Set<string>();
  const walk = (nodes: LineageNode[], into: Set<string>) => {
    for (const n of nodes) {
      if (n.kind === "table") tables.add(n.name);
      else into.add(n.name);
      walk(n.children, into);
    }
  };
  walk(lineage.upstream, features);
  walk(lineage.downstream, dependents);
  return { tables: [...tables].sort(), features: [...features].sort(), dependents: [...dependents].sort() };
}

function label(n: LineageNode): string {
  if (n.kind === "table") return `table ${n.name}`;
  const meta = n.group ? ` (${n.group}, ${n.computation ?? "?"})` : "";
  return `feature ${n.name}${meta}${n.cycle ? " [cycle]" : ""}`;
}

/**
 * user_track_genre_affinity (interaction_features, on_demand)
 * ├─ upstream
 * │  ├─ feature favorite_genres (user_profile_features, batch)
 * │  │  └─ table listening_events
 * └─ downstream
 *    └─ (none)
 */
export function renderLineageTree(lineage: Lineage): string {
  const lines = [`${lineage.feature.name} (${lineage.feature.group}, ${lineage.feature.computation_type})`];
  const render = (nodes: LineageNode[], prefix: string) => {
    nodes.forEach((n, i) => {
      const last = i === nodes.length - 1;
      lines.push(`${prefix}${last ? "└─ " : "├─ "}${label(n)}`);
      render(n.children, `${prefix}${last ? "   " : "│  "}`);
    });
  };
  const section = (title: string, nodes: LineageNode[], last: boolean) => {
    lines.push(`${last ? "└─ " : "├─ "}${title}`);
    const prefix = last ? "   " : "│  ";
    if (nodes.length === 0) lines.push(`${prefix}└─ (none)`);
    else render(nodes, prefix);
  };
  section("upstream", lineage.upstream, false);
  section("downstream", lineage.downstream, true);
  return lines.join("\n");
}
