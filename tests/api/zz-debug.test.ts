import { test } from "vitest";
import { createRequire } from "node:module";
import * as g from "graphql";
import { createGraphQLError } from "graphql-yoga";
test("debug", async () => {
  const req = createRequire(import.meta.url);
  const cjs = req("graphql");
  console.log("same GraphQLError", g.GraphQLError === cjs.GraphQLError);
  console.log("yoga err instanceof esm", createGraphQLError("x") instanceof g.GraphQLError, "instanceof cjs", createGraphQLError("x") instanceof cjs.GraphQLError);
  console.log(import.meta.resolve?.("graphql"));
  const { schema } = await import("../../server/schema/index.js");
  console.log("schema instanceof esm", schema instanceof g.GraphQLSchema, "cjs", schema instanceof cjs.GraphQLSchema);
  try { console.log(g.printSchema(schema).length); } catch (e) { console.log("print failed", (e as Error).message.slice(0, 200)); }
});
