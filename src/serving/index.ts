// Entry module of the feature-serving Worker: the app over the context built from env once per isolate.
import { createServingApp } from "./app";
import { type ServingEnv, servingContext } from "./context";

export { EntityState } from "../durable/entity-state";
export { MetricsHub } from "../durable/metrics-hub";
export type { ServingEnv } from "./context";

const app = createServingApp(servingContext);

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<ServingEnv>;
