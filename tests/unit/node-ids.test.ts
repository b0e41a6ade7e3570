import { encodeGlobalID } from "@pothos/plugin-relay";
import { GraphQLError, type GraphQLInterfaceType } from "graphql";
import { describe, expect, test } from "vitest";
import { decodeNodeId, NODE_TYPENAMES } from "../../server/schema/ids.js";
import { schema } from "../../server/schema/index.js";

const ID = "0B9A3E34-7A0E-4C43-9B0E-7F8C1E0D2A11";

describe("decodeNodeId", () => {
  test("names exactly the schema's Node types", () => {
    const implementations = schema.getPossibleTypes(schema.getType("Node") as GraphQLInterfaceType).map((t) => t.name);
    expect([...NODE_TYPENAMES].sort()).toEqual(implementations.sort());
  });

  test("a node's global id decodes to its type and lower-cased UUID", () => {
    for (const typename of NODE_TYPENAMES) expect(decodeNodeId(encodeGlobalID(typename, ID))).toEqual({ typename, id: ID.toLowerCase() });
  });

  test.each([
    ["not base64 of type:id", "not-a-global-id"],
    ["a known type with a key that is not a UUID", encodeGlobalID("Chat", "not-a-uuid")],
    ["an unknown type", encodeGlobalID("Foo", ID)],
    ["a type of the schema that is not a node", encodeGlobalID("ChatStats", ID)],
    ["an empty string", ""],
  ])("%s is BAD_USER_INPUT", (_, globalId) => {
    let thrown: unknown;
    try {
      decodeNodeId(globalId);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(GraphQLError);
    expect((thrown as GraphQLError).extensions.code).toBe("BAD_USER_INPUT");
  });
});
