import { ValidationError } from "../errors.js";

/**
 * The services name a bad field from their own input (["tokens", "input"]); a GraphQL client needs
 * it from the mutation's arguments (["input", "tokens", "input"]). Runs a service call and puts the
 * argument's name in front of each issue's path. Ids parsed before the call already carry it.
 */
export async function underArgument<T>(argument: (string | number)[], call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ValidationError) throw error.prefixed(argument);
    throw error;
  }
}
