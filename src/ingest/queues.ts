// Names of the ingest Worker's queues, as its consumers see them (environments add a suffix: feature-push-staging).

/** Which consumer a queue name belongs to; pushes and materialization share the ingest consumer. */
export function queueRole(name: string): "ingest" | "dead_letters" | "events" | undefined {
  if (/^feature-ingest-dlq(-.+)?$/.test(name)) return "dead_letters";
  if (/^feature-events(-.+)?$/.test(name)) return "events";
  if (/^feature-(ingest|push)(-.+)?$/.test(name)) return "ingest";
  return undefined;
}

/** The interactive push queue (POST /ingest/push, Feast's /push), apart from materialization's feature-ingest. */
export function isPushQueue(name: string): boolean {
  return /^feature-push(-.+)?$/.test(name);
}
