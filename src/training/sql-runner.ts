// The one port the training-set core needs from a database: run a statement, get its rows.
export interface SqlRunner {
  query<Row extends Record<string, unknown> = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
}

/** Anything with node-postgres' query shape: pg.Client in Node, @neondatabase/serverless' Client in a Worker. */
export interface PgQueryable {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

export function sqlRunner(client: PgQueryable): SqlRunner {
  return {
    async query<Row extends Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
      const result = await client.query(text, [...params]);
      return result.rows as Row[];
    },
  };
}
