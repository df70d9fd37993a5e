// The tree's shape: src/ holds only Worker code (no Node built-ins, no pg, nothing from outside src/), src/ has no
// import cycles, and the tooling imports one way: bench → dev / scripts → tools → src.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../tools/paths";

/** Top-level folders and what each may import besides packages. `scripts` and `dev` are peers: both are entry points over tools. */
const ALLOWED_LAYERS: Readonly<Record<string, readonly string[]>> = {
  src: ["src"],
  // The tooling calls the Workers through the client package, as users do.
  tools: ["tools", "src", "packages"],
  scripts: ["scripts", "tools", "src", "packages"],
  dev: ["dev", "tools", "src", "packages"],
  bench: ["bench", "dev", "scripts", "tools", "src", "packages"],
  // The client package takes only types from src (its runtime code is its own).
  packages: ["packages", "src"],
};
const LAYERS = Object.keys(ALLOWED_LAYERS);
/** Packages that only run in Node (TCP sockets, child processes, local servers): Workers get them from src/db or not at all. */
const NODE_ONLY_PACKAGES = ["pg", "ws", "miniflare", "wrangler", "tsx", "drizzle-orm/node-postgres", "@electric-sql/pglite"];
const SKIPPED_DIRS = new Set(["node_modules", "results", ".wrangler"]);

/**
 * Import cycles among src/ files that are known and being removed elsewhere, as the files of each strongly
 * connected component. The test fails when a cycle is not listed here, and when a listed one is gone.
 */
const KNOWN_SRC_CYCLES: readonly (readonly string[])[] = [];

// ------------------------------------------------------------------ import parsing

interface ImportRef {
  specifier: string;
  /** `import("…")`: resolved lazily at run time, so it cannot take part in a load-order cycle. */
  dynamic: boolean;
}

const STATIC_FROM =
  /^[ \t]*(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?|[\w$]+)\s+from\s+["']([^"']+)["']/gm;
const SIDE_EFFECT = /^[ \t]*import\s+["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Every `import … from`, `import type … from`, `export … from`, `import "…"` and `import("…")` of a module's text. */
function importsOf(source: string): ImportRef[] {
  const refs: ImportRef[] = [];
  for (const re of [STATIC_FROM, SIDE_EFFECT]) for (const m of source.matchAll(re)) refs.push({ specifier: m[1]!, dynamic: false });
  for (const m of source.matchAll(DYNAMIC)) refs.push({ specifier: m[1]!, dynamic: true });
  return refs;
}

const NODE_BUILTINS = new Set(builtinModules);

function isNodeBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || NODE_BUILTINS.has(specifier) || NODE_BUILTINS.has(specifier.split("/")[0]!);
}

function isNodeOnlyPackage(specifier: string): boolean {
  return NODE_ONLY_PACKAGES.some((p) => specifier === p || specifier.startsWith(`${p}/`));
}

// ------------------------------------------------------------------ the tree

interface Module {
  /** Relative to the project root, with forward slashes. */
  file: string;
  imports: ImportRef[];
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (SKIPPED_DIRS.has(name)) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...tsFiles(full));
    else if (name.endsWith(".ts") || name.endsWith(".tsx")) out.push(full);
  }
  return out;
}

const rel = (full: string) => path.relative(PROJECT_ROOT, full).split(path.sep).join("/");
const layerOf = (file: string) => file.split("/")[0]!;

const MODULES: Module[] = LAYERS.flatMap((layer) =>
  tsFiles(path.join(PROJECT_ROOT, layer)).map((full) => ({ file: rel(full), imports: importsOf(readFileSync(full, "utf8")) })),
);
const KNOWN_FILES = new Set(MODULES.map((m) => m.file));

/** The project file a relative specifier names (`./x` → x.ts, x.tsx, x.d.ts or x/index.ts), or the path it points at. */
function resolveRelative(from: string, specifier: string): string {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, `${base}.d.ts`, `${base}/index.ts`])
    if (KNOWN_FILES.has(candidate)) return candidate;
  return base;
}

interface Edge {
  from: string;
  to: string;
  dynamic: boolean;
}

const EDGES: Edge[] = MODULES.flatMap((m) =>
  m.imports
    .filter((i) => i.specifier.startsWith("."))
    .map((i) => ({ from: m.file, to: resolveRelative(m.file, i.specifier), dynamic: i.dynamic })),
);

// ------------------------------------------------------------------ cycles

/** Strongly connected components with more than one file (or a file importing itself), Tarjan's algorithm. */
function cyclicComponents(nodes: readonly string[], edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const e of edges) next.get(e.from)?.push(e.to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!next.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1 || (next.get(v) ?? []).includes(v)) out.push(component.sort());
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return out;
}

/** One cycle through the component, for the failure message: `a.ts → b.ts → a.ts`. */
function exampleCycle(component: readonly string[], edges: readonly Edge[]): string {
  const members = new Set(component);
  const start = component[0]!;
  const seen = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const e of edges) {
      if (e.from !== v || !members.has(e.to)) continue;
      if (e.to === start) {
        const pathBack = [v];
        for (let p = seen.get(v); p !== undefined; p = seen.get(p)) pathBack.push(p);
        return [...pathBack.reverse(), start].join(" → ");
      }
      if (!seen.has(e.to)) {
        seen.set(e.to, v);
        queue.push(e.to);
      }
    }
  }
  return component.join(", ");
}

// ------------------------------------------------------------------ tests

describe("import parsing", () => {
  it("finds static, type-only, re-export, side-effect and dynamic imports, across lines", () => {
    const source = [
      `import { a, type B } from "./a";`,
      `import type { C } from "../c";`,
      `import D, { e } from "d";`,
      `import * as f from "node:fs";`,
      `import {\n  g,\n  h,\n} from "./g";`,
      `export { i } from "./i";`,
      `export * from "./j";`,
      `export type { K } from "./k";`,
      `import "./side-effect";`,
      `const l = await import("./l");`,
      `// a comment that says import x from "./not-an-import" after prose`,
      `const text = "import y from './not-either'";`,
    ].join("\n");
    expect(importsOf(source)).toEqual([
      ...["./a", "../c", "d", "node:fs", "./g", "./i", "./j", "./k"].map((specifier) => ({ specifier, dynamic: false })),
      { specifier: "./side-effect", dynamic: false },
      { specifier: "./l", dynamic: true },
    ]);
  });

  it("reads the whole tree (a scan that finds nothing would prove nothing)", () => {
    expect(MODULES.filter((m) => layerOf(m.file) === "src").length).toBeGreaterThan(50);
    expect(EDGES.length).toBeGreaterThan(300);
    expect(EDGES.filter((e) => !KNOWN_FILES.has(e.to))).toEqual([]);
  });
});

describe("src/ is Worker code only", () => {
  it("imports no Node built-in and no Node-only package (nor does the client package, which runs in Workers and browsers)", () => {
    const offending = MODULES.filter((m) => layerOf(m.file) === "src" || layerOf(m.file) === "packages").flatMap((m) =>
      m.imports.filter((i) => isNodeBuiltin(i.specifier) || isNodeOnlyPackage(i.specifier)).map((i) => `${m.file}: ${i.specifier}`),
    );
    expect(offending).toEqual([]);
  });

  it("imports nothing from outside src/ but packages", () => {
    // packages/ may take types from src/: a type-only import leaves nothing at run time.
    const runtimeFromSrc = MODULES.filter((m) => layerOf(m.file) === "packages").flatMap((m) =>
      (readFileSync(path.join(PROJECT_ROOT, m.file), "utf8").match(/^import (?!type )[^;]*from "(\.\.\/)+src\/[^"]*";$/gm) ?? []).map(
        (l) => `${m.file}: ${l}`,
      ),
    );
    expect(runtimeFromSrc).toEqual([]);
    const offending = EDGES.filter((e) => layerOf(e.from) === "src" && layerOf(e.to) !== "src").map((e) => `${e.from} → ${e.to}`);
    expect(offending).toEqual([]);
  });

  it("has no import cycles but the known ones", () => {
    const src = MODULES.filter((m) => layerOf(m.file) === "src" && !m.file.endsWith(".d.ts")).map((m) => m.file);
    const staticEdges = EDGES.filter((e) => !e.dynamic);
    const found = cyclicComponents(src, staticEdges);
    const key = (files: readonly string[]) => [...files].sort().join(" ");
    const known = new Set(KNOWN_SRC_CYCLES.map(key));
    const unknown = found.filter((c) => !known.has(key(c))).map((c) => exampleCycle(c, staticEdges));
    expect(unknown, "new import cycles in src/").toEqual([]);
    const gone = KNOWN_SRC_CYCLES.map(key).filter((k) => !found.some((c) => key(c) === k));
    expect(gone, "listed in KNOWN_SRC_CYCLES but no longer a cycle: remove them from the list").toEqual([]);
  });
});

describe("tooling imports flow one way: bench → dev / scripts → tools → src", () => {
  it("no folder imports one it builds on", () => {
    const offending = EDGES.filter((e) => !ALLOWED_LAYERS[layerOf(e.from)]!.includes(layerOf(e.to))).map((e) => `${e.from} → ${e.to}`);
    expect(offending).toEqual([]);
  });

  it("tools/ has no import cycles", () => {
    const tools = MODULES.filter((m) => layerOf(m.file) === "tools").map((m) => m.file);
    const staticEdges = EDGES.filter((e) => !e.dynamic);
    expect(cyclicComponents(tools, staticEdges).map((c) => exampleCycle(c, staticEdges))).toEqual([]);
  });
});
