// GraphQL over HTTP for the driver's own requests (the load itself goes through autocannon).
export interface GqlResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export async function gql<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<GqlResponse<T>> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  try {
    return JSON.parse(text) as GqlResponse<T>;
  } catch {
    throw new Error(`${url} answered ${res.status} with ${text.slice(0, 200)}`);
  }
}

/** The data of a response, or an error naming the operation and the server's message. */
export async function gqlData<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const body = await gql<T>(url, query, variables);
  if (body.errors?.length || !body.data) throw new Error(`GraphQL error: ${JSON.stringify(body.errors ?? body).slice(0, 400)} for ${query.slice(0, 80)}`);
  return body.data;
}

// The mutation shapes both servers answer: a typed union result, read by __typename and fragments.
export const START = `mutation Start($input: StartToolTraceInput!) { startToolTrace(input: $input) { __typename ... on ToolTrace { id } ... on Error { message } } }`;
export const FINISH = `mutation Finish($input: FinishToolTraceInput!) { finishToolTrace(input: $input) { __typename ... on ToolTrace { id } ... on Error { message } } }`;
export const CREATE_CHAT = `mutation Create($input: CreateChatInput) { createChat(input: $input) { __typename ... on Chat { id uuid currentSessionId } ... on Error { message } } }`;

export interface CreatedChat {
  id: string;
  uuid: string;
  currentSessionId: string;
}

export async function createChat(url: string, title: string): Promise<CreatedChat> {
  const data = await gqlData<{ createChat: CreatedChat & { __typename: string; message?: string } }>(url, CREATE_CHAT, { input: { title } });
  if (data.createChat.__typename !== "Chat") throw new Error(`createChat: ${data.createChat.__typename} ${data.createChat.message ?? ""}`);
  return data.createChat;
}
