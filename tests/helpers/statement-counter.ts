// Counts the SQL statements Prisma sends, at the driver adapter: every queryRaw and executeRaw of the
// adapters that PrismaPg and PrismaPGlite connect (both backends), plus BEGIN and COMMIT/ROLLBACK of
// interactive transactions. Install it before the database's client makes its first query (Prisma
// connects its adapter lazily). The hot write path's own statements (writeSql) do not go through
// Prisma and are not counted.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaPGlite } from "pglite-prisma-adapter";

export interface CountedStatement {
  sql: string;
}

type Queryable = {
  queryRaw(query: { sql: string }): Promise<unknown>;
  executeRaw(query: { sql: string }): Promise<unknown>;
  startTransaction?(isolationLevel?: unknown): Promise<Queryable & { commit(): Promise<unknown>; rollback(): Promise<unknown> }>;
};

export interface StatementCounter {
  /** Every statement since the last reset, in order. */
  readonly statements: CountedStatement[];
  reset(): void;
  /** Statements sent while `run` ran. */
  during<T>(run: () => Promise<T>): Promise<{ result: T; statements: CountedStatement[] }>;
  uninstall(): void;
}

export function installStatementCounter(): StatementCounter {
  let statements: CountedStatement[] = [];
  const record = (sql: string) => statements.push({ sql });

  const wrapQueryable = <Q extends Queryable>(q: Q): Q => {
    const queryRaw = q.queryRaw.bind(q);
    const executeRaw = q.executeRaw.bind(q);
    q.queryRaw = (query) => {
      record(query.sql);
      return queryRaw(query);
    };
    q.executeRaw = (query) => {
      record(query.sql);
      return executeRaw(query);
    };
    return q;
  };
  const wrapAdapter = (adapter: Queryable) => {
    wrapQueryable(adapter);
    const start = adapter.startTransaction?.bind(adapter);
    if (start) {
      adapter.startTransaction = async (isolationLevel) => {
        record("BEGIN");
        const tx = wrapQueryable(await start(isolationLevel));
        const commit = tx.commit.bind(tx);
        const rollback = tx.rollback.bind(tx);
        tx.commit = () => (record("COMMIT"), commit());
        tx.rollback = () => (record("ROLLBACK"), rollback());
        return tx;
      };
    }
    return adapter;
  };

  const factories = [PrismaPg.prototype, PrismaPGlite.prototype] as unknown as { connect(): Promise<Queryable> }[];
  const originals = factories.map((proto) => proto.connect);
  factories.forEach((proto, i) => {
    const original = originals[i]!;
    proto.connect = async function (this: unknown) {
      return wrapAdapter(await original.call(this));
    };
  });

  return {
    get statements() {
      return statements;
    },
    reset() {
      statements = [];
    },
    async during(run) {
      const before = statements.length;
      const result = await run();
      return { result, statements: statements.slice(before) };
    },
    uninstall() {
      factories.forEach((proto, i) => (proto.connect = originals[i]!));
    },
  };
}
