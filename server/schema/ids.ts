import { decodeGlobalID } from "@pothos/plugin-relay";
import { GraphQLError } from "graphql";
import { ValidationError } from "../errors.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Inputs take a node's global id, or its plain UUID (what agents and the SDK hold); either way the
 * service gets the UUID. A global id of another type is a validation error on that field.
 */
export function parseId(value: string, typename: string, path: (string | number)[]): string {
  if (UUID.test(value)) return value.toLowerCase();
  try {
    const decoded = decodeGlobalID(value);
    if (decoded.typename === typename && UUID.test(decoded.id)) return decoded.id;
  } catch {
    // not a global id: reported below
  }
  throw new ValidationError([{ path, message: `must be the id of a ${typename}` }]);
}

/** node(id)/nodes(ids): a malformed id is the client's mistake, answered as such rather than masked. */
export function decodeNodeId(globalID: string): { typename: string; id: string } {
  try {
    return decodeGlobalID(globalID);
  } catch {
    throw new GraphQLError(`${JSON.stringify(globalID)} is not a global id`, { extensions: { code: "BAD_USER_INPUT" } });
  }
}
