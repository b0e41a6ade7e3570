// GraphQL Code Generator: the dashboard's typed documents (client preset), from the committed
// schema.graphql to web/src/gql (generated, not committed). Documents are written inline with
// graphql() in web/src. `npm run codegen` runs it once the dashboard's packages are installed.
const config = {
  schema: "schema.graphql",
  documents: ["web/src/**/*.{ts,vue}", "!web/src/gql/**"],
  ignoreNoDocuments: true,
  generates: {
    "web/src/gql/": {
      preset: "client",
      config: { useTypeImports: true, scalars: { DateTime: "string", JSON: "unknown", BigInt: "number | string" } },
    },
  },
};

export default config;
