// npm run db:migrate: applies drizzle/ migrations to DATABASE_URL.
import { EXIT_OK, runIfMain, UsageError } from "../tools/cli";
import { migrateDatabase } from "../tools/migrate";
import { redactUrl } from "../tools/postgres";

runIfMain("db:migrate", import.meta.url, async () => {
  const url = process.env.DATABASE_URL;
  if (!url)
    throw new UsageError("DATABASE_URL is not set. Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run db:migrate");
  const started = Date.now();
  await migrateDatabase(url);
  console.log(`migrations applied to ${redactUrl(url)} in ${Date.now() - started} ms`);
  return EXIT_OK;
});
