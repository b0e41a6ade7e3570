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

/**
 * The types node(id) resolves, each keyed by a UUID. A test checks this against the schema's Node
 * implementations, so a new node type cannot be forgotten here.
 */
export const NODE_TYPENAMES: readonly string[] = ["Chat", "ToolTrace", "SnapshotRevision"];

const badNodeId = (message: string) => new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
/** A client's value as an error message quotes it: JSON, cut short. */
export const quoted = (value: string) => JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);

/**
 * node(id)/nodes(ids): a malformed id is the client's mistake, answered as such rather than masked.
 * Checked before any lookup: an id of an unknown type, or one whose key is not a UUID, would
 * otherwise reach the database as a query it cannot run.
 */
export function decodeNodeId(globalID: string): { typename: string; id: string } {
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(globalID);
  } catch {
    throw badNodeId(`${quoted(globalID)} is not a global id`);
  }
  if (!NODE_TYPENAMES.includes(decoded.typename)) throw badNodeId(`${quoted(globalID)} is not the id of a node: no type ${quoted(decoded.typename)}`);
  if (!UUID.test(decoded.id)) throw badNodeId(`${quoted(globalID)} is not the id of a ${decoded.typename}`);
  return { typename: decoded.typename, id: decoded.id.toLowerCase() };
}
