// Applies the drizzle/ migrations to a database: used by `npm run db:migrate`, the dev stack, the bench and the tests.
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import { MIGRATIONS_DIR } from "./paths";
import { withPgClient } from "./postgres";

export async function migrateDatabase(databaseUrl: string): Promise<void> {
  await withPgClient(databaseUrl, async (client) => {
    // Notices such as "schema drizzle already exists, skipping" are noise on every run.
    client.on("notice", () => undefined);
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
  });
}
