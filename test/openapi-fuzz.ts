// Fuzz targets read from a Worker's OpenAPI document: every operation, its path and query parameters and its JSON body's fields, as hostile requests.
import fc from "fast-check";
import { expect } from "vitest";
import { FUZZ_SEED, hostileBody, hostileJson, hostileString } from "../tools/fuzz-bodies";
import type { OpenApiContract, OpenApiDocument } from "./openapi-contract";

type Json = Record<string, unknown>;

/** One documented operation and the requests generated for it. */
export interface FuzzTarget {
  method: string;
  /** As documented (`/registry/features/{name}`), for OpenApiContract.check. */
  path: string;
  request: fc.Arbitrary<{ url: string; body?: string }>;
}

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
}

function resolve(doc: OpenApiDocument, schema: Json | undefined): Json | undefined {
  const ref = schema?.$ref;
  if (typeof ref !== "string") return schema;
  return doc.components.schemas[ref.replace("#/components/schemas/", "")];
}

/** URL-encodes text; a lone surrogate (which encodeURIComponent refuses) becomes the bytes of an invalid UTF-8 sequence. */
function encodePart(text: string): string {
  return Array.from(text, (ch) => {
    try {
      return encodeURIComponent(ch);
    } catch {
      return "%ED%A0%80";
    }
  }).join("");
}

/** A hostile value of a path or query parameter: a valid one when the caller gave some, else hostile text. */
function parameterValue(name: string, valid: Record<string, string[]>): fc.Arbitrary<string> {
  const known = valid[name]?.map((v) => JSON.parse(v) as unknown).filter((v): v is string => typeof v === "string") ?? [];
  return known.length > 0 ? fc.oneof(fc.constantFrom(...known), hostileString) : hostileString;
}

/**
 * Every operation of `doc`: path parameters filled (valid or hostile, URL-encoded), documented
 * query parameters present or not, and, for a JSON body, its documented top-level fields mutated
 * by `hostileBody` (valid values of a field from `valid`, JSON literals keyed by field name,
 * else hostile JSON).
 */
export function fuzzTargets(doc: OpenApiDocument, valid: Record<string, string[]>): FuzzTarget[] {
  const targets: FuzzTarget[] = [];
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops)) {
      const params = ((op as { parameters?: Parameter[] }).parameters ?? []).filter((p) => p.in !== "header");
      const pathParams = params.filter((p) => p.in === "path");
      const queryParams = params.filter((p) => p.in === "query");
      const url = fc
        .tuple(
          fc.tuple(...pathParams.map((p) => parameterValue(p.name, valid))),
          fc.tuple(...queryParams.map((p) => fc.option(parameterValue(p.name, valid), { nil: undefined }))),
        )
        .map(([pathValues, queryValues]) => {
          let out = path;
          pathParams.forEach((p, i) => {
            out = out.replace(`{${p.name}}`, encodePart(pathValues[i] as string));
          });
          const query = queryParams
            .map((p, i) => (queryValues[i] === undefined ? undefined : `${p.name}=${encodePart(queryValues[i] as string)}`))
            .filter(Boolean);
          return query.length > 0 ? `${out}?${query.join("&")}` : out;
        });
      const schema = resolve(doc, op.requestBody?.content?.["application/json"] as Json | undefined);
      const bodySchema = resolve(doc, schema?.schema as Json | undefined);
      const properties = Object.keys((bodySchema?.properties as Json | undefined) ?? {});
      const fields = Object.fromEntries(
        properties.map((name) => [name, valid[name] ? fc.oneof(fc.constantFrom(...valid[name]!), hostileJson) : hostileJson]),
      );
      const body = !op.requestBody ? undefined : properties.length > 0 ? hostileBody(fields) : hostileJson;
      targets.push({
        method: method.toUpperCase(),
        path,
        request: body ? fc.tuple(url, body).map(([u, b]) => ({ url: u, body: b })) : url.map((u) => ({ url: u })),
      });
    }
  return targets;
}

/** What a fuzzed answer must satisfy: below 500, documented for its status, valid against that response's schema. */
export async function answerProblems(contract: OpenApiContract, target: FuzzTarget, res: Response): Promise<string[]> {
  if (res.status >= 500) return [`${target.method} ${target.path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`];
  return contract.check(target.method, target.path, res);
}

/**
 * Sends `runs` generated requests per target (seeded: a failure prints the seed and path to
 * replay) through `request` with the Bearer `key`, expecting no answer problem; returns the statuses seen.
 */
export async function sweepOperations(
  targets: FuzzTarget[],
  contract: OpenApiContract,
  key: string,
  runs: number,
  request: (url: string, init: RequestInit) => Response | Promise<Response>,
): Promise<Set<number>> {
  const statuses = new Set<number>();
  for (const target of targets)
    await fc.assert(
      fc.asyncProperty(target.request, async ({ url, body }) => {
        const headers: Record<string, string> = { authorization: `Bearer ${key}` };
        if (body !== undefined) headers["content-type"] = "application/json";
        const res = await request(url, { method: target.method, headers, ...(body === undefined ? {} : { body }) });
        statuses.add(res.status);
        expect(await answerProblems(contract, target, res)).toEqual([]);
      }),
      { seed: FUZZ_SEED, numRuns: runs },
    );
  return statuses;
}
