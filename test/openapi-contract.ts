// Checks a Worker's OpenAPI 3.1 document against its app: every route documented, every answer valid against its documented response.
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";

type Json = Record<string, unknown>;
interface Operation {
  requestBody?: { required?: boolean; content?: Json };
  responses: Record<string, { content?: Record<string, { schema?: Json }>; headers?: Json }>;
  security?: unknown[];
}
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; securitySchemes?: Json };
}

/** Hono's `/registry/features/:name` as OpenAPI writes it: `/registry/features/{name}`. */
export const openApiPath = (honoPath: string): string => honoPath.replaceAll(/:([^/]+)/g, "{$1}");

const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

export class OpenApiContract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });

  constructor(readonly doc: OpenApiDocument) {
    addFormats(this.ajv);
    // The whole document is one schema resource, so `#/components/schemas/...` resolves inside it.
    this.ajv.addSchema(doc as unknown as Json, "openapi.json");
  }

  /** Problems between the app's routes (Hono's `app.routes`) and the document's operations; empty when they agree. */
  compareRoutes(routes: readonly { method: string; path: string }[]): string[] {
    const problems: string[] = [];
    const served = new Set<string>();
    for (const r of routes) {
      if (r.path === "/*") continue; // middleware of every path
      const path = openApiPath(r.path);
      const ops = this.doc.paths[path];
      if (!ops) {
        problems.push(`${r.method} ${r.path}: path ${path} is not documented`);
        continue;
      }
      if (r.method === "ALL") {
        // The 405 answer of a known path: every operation there must document it.
        for (const [method, op] of Object.entries(ops)) if (!op.responses["405"]) problems.push(`${method} ${path}: no 405 documented`);
        continue;
      }
      const method = r.method.toLowerCase();
      served.add(`${method} ${path}`);
      if (!ops[method]) problems.push(`${r.method} ${r.path}: documented path without this method`);
    }
    for (const [path, ops] of Object.entries(this.doc.paths))
      for (const method of Object.keys(ops))
        if (!served.has(`${method} ${path}`)) problems.push(`${method} ${path}: documented, but no route serves it`);
    return problems;
  }

  /**
   * Problems of one real answer against the response documented for its status; empty when it
   * validates. A 405 is checked against the 405 of any operation on the path (they share it).
   */
  async check(method: string, path: string, res: Response): Promise<string[]> {
    const ops = this.doc.paths[path];
    if (!ops) return [`${path} is not documented`];
    const [opMethod, op] =
      res.status === 405 ? (Object.entries(ops)[0] ?? []) : ([method.toLowerCase(), ops[method.toLowerCase()]] as const);
    if (!op || !opMethod) return [`${method} ${path} is not documented`];
    const status = String(res.status);
    const documented = op.responses[status];
    if (!documented) return [`${method} ${path} answered ${status}, which is not documented (${Object.keys(op.responses).join(", ")})`];
    const problems: string[] = [];
    for (const header of Object.keys(documented.headers ?? {}))
      if (!res.headers.has(header)) problems.push(`${status}: header ${header} is documented but missing`);
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
    const content = documented.content ?? {};
    if (!(mediaType in content))
      return [...problems, `${status}: content type ${mediaType} is not one of ${Object.keys(content).join(", ")}`];
    if (mediaType !== "application/json") return problems;
    const body: unknown = await res.json();
    const ref = `openapi.json#/${pointer("paths", path, opMethod, "responses", status, "content", mediaType, "schema")}`;
    const validate = this.ajv.compile({ $ref: ref });
    if (!validate(body))
      problems.push(`${method} ${path} ${status}: ${this.ajv.errorsText(validate.errors)} in ${JSON.stringify(body).slice(0, 300)}`);
    return problems;
  }
}
