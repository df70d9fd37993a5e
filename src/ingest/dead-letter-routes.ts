// Admin API of dead letters on the ingest Worker: list them with their reasons, and replay them through the push path.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { FeatureStoreError } from "../core/errors";
import { withPostgresClient } from "../db/postgres";
import { BEARER, component, errors, json, jsonBody, named, openapiRoute } from "../http/openapi-routes";
import { type IngestHonoEnv, requireScope } from "./context";
import {
  DEFAULT_DEAD_LETTER_LIMIT,
  listDeadLetters,
  MAX_DEAD_LETTER_LIMIT,
  type ReplayPush,
  replayDeadLetters,
} from "./dead-letter-replay";
import { queueUpdates } from "./push";

const UNAVAILABLE = "Dead letters live in Postgres; DATABASE_URL is not set or Postgres is not answering";
/** Ids per replay request: the console replays one or a page of them. */
export const MAX_REPLAY_IDS = 500;

const ListQuery = named(
  z
    .object({
      limit: z.coerce.number().int().min(1).max(MAX_DEAD_LETTER_LIMIT).default(DEFAULT_DEAD_LETTER_LIMIT),
      pending: z.enum(["true", "false"]).default("false").meta({ description: "true: only those not replayed yet" }),
    })
    .strict(),
  "dead letters query",
);

const Reason = z.object({ feature: z.string(), rule: z.string(), message: z.string() }).passthrough();

const DeadLetterSchema = component(
  z.object({
    id: z.number().int(),
    message_id: z.string(),
    created_at: z.string(),
    source: z.string().meta({ description: "validation, retries_exhausted or parse" }),
    attempts: z.number().int(),
    entity: z.string().meta({ description: "entity_type:entity_id, ? when the message holds none" }),
    message: z.unknown(),
    reasons: z.array(Reason),
    replayed_at: z.string().nullable(),
  }),
  "DeadLetter",
);

const ReplayRequest = z
  .object({
    ids: z
      .array(z.number().int().positive())
      .min(1)
      .max(MAX_REPLAY_IDS)
      .optional()
      .meta({ description: "Dead letter ids; without them, every one not replayed yet" }),
  })
  .strict();

const ReplayReportSchema = component(
  z.object({
    considered: z.number().int(),
    replayed: z.array(z.number().int()),
    refused: z.array(z.object({ id: z.number().int(), error: z.string() })),
    unusable: z.array(z.object({ id: z.number().int(), source: z.string(), error: z.string() })),
    missing: z.array(z.number().int()),
    again: z.array(z.object({ id: z.number().int(), replayed_at: z.string() })),
  }),
  "ReplayReport",
);

export const deadLettersRoute = createRoute({
  method: "get",
  path: "/admin/dead-letters",
  summary: "Dead letters, newest first, with their reasons",
  security: BEARER,
  middleware: [requireScope("admin")],
  request: { query: ListQuery },
  responses: {
    200: json(z.object({ dead_letters: z.array(DeadLetterSchema) }), "The dead letters"),
    ...errors([400, 401, 403, 503], { 503: UNAVAILABLE }),
  },
});

export const replayRoute = createRoute({
  method: "post",
  path: "/admin/dead-letters/replay",
  summary: 'Queue dead letters again (source "replay"); each is validated again and one that still fails becomes a new dead letter',
  security: BEARER,
  middleware: [requireScope("admin")],
  request: { body: jsonBody(component(ReplayRequest, "ReplayRequest"), { subject: "replay request", maxBytes: 64 * 1024 }) },
  responses: {
    200: json(ReplayReportSchema, "What was replayed, refused (validation), unusable (no update in the message) or missing"),
    ...errors([400, 401, 403, 413, 503], { 503: `${UNAVAILABLE}, or the queue refused the replay` }),
  },
});

export function deadLetterRoutes(): OpenAPIHono<IngestHonoEnv> {
  const r = new OpenAPIHono<IngestHonoEnv>();

  openapiRoute(r, deadLettersRoute, async (c) => {
    const deps = c.get("deps");
    if (!deps.postgres) throw new FeatureStoreError("unavailable", UNAVAILABLE);
    const { limit, pending } = c.req.valid("query");
    const rows = await withPostgresClient(deps.postgres, (client) => listDeadLetters(client, { limit, pending: pending === "true" }));
    return c.json({ dead_letters: rows }, 200);
  });

  openapiRoute(r, replayRoute, async (c) => {
    const deps = c.get("deps");
    if (!deps.postgres) throw new FeatureStoreError("unavailable", UNAVAILABLE);
    const { ids } = c.req.valid("json");
    // The push route's own path, in process: a validation refusal is the letter's, anything else fails the replay.
    const push: ReplayPush = async (updates) => {
      try {
        await queueUpdates(updates, "replay", { queue: deps.ingestQueue, registry: deps.registry, now: deps.now, log: deps.log });
        return { accepted: true };
      } catch (err) {
        if (err instanceof FeatureStoreError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 403)
          return { accepted: false, error: err.message };
        throw err;
      }
    };
    const report = await withPostgresClient(deps.postgres, (client) => replayDeadLetters(client, ids ?? [], push));
    return c.json(report, 200);
  });

  return r;
}
