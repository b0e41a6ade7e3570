// Seeding through the public GraphQL API over HTTP, as an agent would: createChat,
// recordToolTraces (batches of up to 1,000), startToolTrace/finishToolTrace and saveSnapshot; and
// Tracedeck's own agent: updateAgentSettings, Chat.agentTurns.
// Every typed error result (ValidationError, ConflictError, NotFoundError) throws.

export interface TokenInput {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number;
}

export interface TraceItem {
  chatId: string;
  toolName: string;
  toolCallId?: string;
  messageId?: string;
  turnNumber?: number;
  startedAt?: string;
  finishedAt?: string;
  toolInput?: unknown;
  output?: string;
  error?: string;
  tokens?: Partial<TokenInput>;
}

export interface SeededTrace {
  id: string;
  uuid: string;
  toolName: string;
  toolCallId: string | null;
  turnNumber: number;
  status: string;
}

export class Api {
  constructor(readonly baseUrl: string) {}

  async gql<T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(`${this.baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    const text = await res.text();
    let body: { data?: T; errors?: { message: string }[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`HTTP ${res.status} from /graphql: ${text.slice(0, 500)}`);
    }
    if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors).slice(0, 1000)}`);
    return body.data!;
  }

  private static unwrap<T>(result: { __typename: string; message?: string; issues?: unknown }, want: string): T {
    if (result.__typename !== want) throw new Error(`${want} expected, got ${result.__typename}: ${result.message ?? ""} ${result.issues ? JSON.stringify(result.issues) : ""}`);
    return result as T;
  }

  async createChat(title: string, workspace = "/work/e2e"): Promise<{ id: string; uuid: string }> {
    const data = await this.gql<{ createChat: { __typename: string } }>(
      `mutation($input: CreateChatInput) { createChat(input: $input) { __typename ... on Chat { id uuid } ... on Error { message } } }`,
      { input: { title, workspace } },
    );
    return Api.unwrap(data.createChat, "Chat");
  }

  /** recordToolTraces in batches (≤ 1,000 items each, the server's default MAX_BATCH_ITEMS). */
  async recordTraces(items: TraceItem[], batchSize = 1_000): Promise<SeededTrace[]> {
    const out: SeededTrace[] = [];
    for (let i = 0; i < items.length; i += batchSize) {
      const data = await this.gql<{ recordToolTraces: { __typename: string; traces?: SeededTrace[] } }>(
        `mutation($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { __typename
           ... on RecordToolTracesPayload { traces { id uuid toolName toolCallId turnNumber status } }
           ... on Error { message } ... on ValidationError { issues { path message } } } }`,
        { input: { items: items.slice(i, i + batchSize) } },
      );
      out.push(...Api.unwrap<{ traces: SeededTrace[] }>(data.recordToolTraces, "RecordToolTracesPayload").traces);
    }
    return out;
  }

  async startTrace(input: { chatId: string; toolName: string; toolCallId: string; messageId?: string; turnNumber?: number; toolInput?: unknown; startedAt?: string }): Promise<SeededTrace & { startedAt: string }> {
    const data = await this.gql<{ startToolTrace: { __typename: string } }>(
      `mutation($input: StartToolTraceInput!) { startToolTrace(input: $input) { __typename
         ... on ToolTrace { id uuid toolName toolCallId turnNumber status startedAt }
         ... on Error { message } ... on ValidationError { issues { path message } } } }`,
      { input },
    );
    return Api.unwrap(data.startToolTrace, "ToolTrace");
  }

  async finishTrace(input: { chatId: string; toolCallId: string; output?: string; error?: string; tokens?: Partial<TokenInput> }): Promise<SeededTrace & { latencyMs: number }> {
    const data = await this.gql<{ finishToolTrace: { __typename: string } }>(
      `mutation($input: FinishToolTraceInput!) { finishToolTrace(input: $input) { __typename
         ... on ToolTrace { id uuid toolName toolCallId turnNumber status latencyMs }
         ... on Error { message } ... on ValidationError { issues { path message } } } }`,
      { input },
    );
    return Api.unwrap(data.finishToolTrace, "ToolTrace");
  }

  async saveSnapshot(chatId: string, turn: number, messages: { role: string; content: string }[]): Promise<{ id: string; turn: number }> {
    const data = await this.gql<{ saveSnapshot: { __typename: string } }>(
      `mutation($input: SaveSnapshotInput!) { saveSnapshot(input: $input) { __typename
         ... on SnapshotRevision { id turn } ... on Error { message } ... on ValidationError { issues { path message } } } }`,
      { input: { chatId, turn, state: { messages } } },
    );
    return Api.unwrap(data.saveSnapshot, "SnapshotRevision");
  }

  async revisions(chatId: string): Promise<{ turn: number; isCurrent: boolean; supersededAt: string | null }[]> {
    const data = await this.gql<{ chat: { snapshots: { edges: { node: { turn: number; isCurrent: boolean; supersededAt: string | null } }[] } } }>(
      `query($id: ID!) { chat(id: $id) { snapshots(first: 100) { edges { node { turn isCurrent supersededAt } } } } }`,
      { id: chatId },
    );
    return data.chat.snapshots.edges.map((e) => e.node);
  }

  /** updateAgentSettings: fields left out keep their value. */
  async updateAgentSettings(
    chatId: string,
    input: { provider?: string; model?: string; workspace?: string; buildCommand?: string[]; fixAttempts?: number },
  ): Promise<{ provider: string; model: string; workspace: string }> {
    const data = await this.gql<{ updateAgentSettings: { __typename: string } }>(
      `mutation($chatId: ID!, $input: AgentSettingsInput!) { updateAgentSettings(chatId: $chatId, input: $input) { __typename
         ... on AgentSettings { provider model workspace } ... on Error { message } ... on ValidationError { issues { path message } } } }`,
      { chatId, input },
    );
    return Api.unwrap(data.updateAgentSettings, "AgentSettings");
  }

  /** The chat's agent turns, oldest first. */
  async agentTurns(chatId: string): Promise<{ turnNumber: number; trigger: string; status: string; fixAttempt: number | null; fixFollows: boolean; outcome: string | null }[]> {
    const data = await this.gql<{ chat: { agentTurns: { turnNumber: number; trigger: string; status: string; fixAttempt: number | null; fixFollows: boolean; outcome: string | null }[] } }>(
      `query($id: ID!) { chat(id: $id) { agentTurns(last: 20) { turnNumber trigger status fixAttempt fixFollows outcome } } }`,
      { id: chatId },
    );
    return data.chat.agentTurns;
  }

  async traceCount(chatId: string): Promise<number> {
    const data = await this.gql<{ chat: { traces: { totalCount: number } } }>(`query($id: ID!) { chat(id: $id) { traces(first: 1) { totalCount } } }`, { id: chatId });
    return data.chat.traces.totalCount;
  }
}

const TOOLS = ["read_file", "run_command", "edit_file", "grep", "list_dir", "write_file", "web_fetch"];

/**
 * Finished traces for a chat: `count` across `turns` turns (turns 1…turns, in order), one trace
 * every `spacingMs` from `start`, every `errorEvery`-th an error, each with its own model step
 * (messageId) and a full token breakdown.
 */
export function makeTraces(options: {
  chatId: string;
  count: number;
  turns: number;
  start?: number;
  spacingMs?: number;
  errorEvery?: number;
  prefix?: string;
}): TraceItem[] {
  const { chatId, count, turns } = options;
  const start = options.start ?? Date.now() - count * (options.spacingMs ?? 50) - 60_000;
  const spacing = options.spacingMs ?? 50;
  const errorEvery = options.errorEvery ?? 0;
  const prefix = options.prefix ?? "t";
  const perTurn = Math.ceil(count / turns);
  return Array.from({ length: count }, (_, j) => {
    const startedAt = start + j * spacing;
    const latency = 5 + ((j * 37) % 400);
    const isError = errorEvery > 0 && j % errorEvery === errorEvery - 1;
    return {
      chatId,
      toolName: TOOLS[j % TOOLS.length]!,
      toolCallId: `${prefix}_${j}`,
      messageId: `${prefix}_msg_${j}`,
      turnNumber: Math.floor(j / perTurn) + 1,
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(startedAt + latency).toISOString(),
      toolInput: { path: `src/file_${j}.ts`, line: j },
      output: isError ? undefined : `ok ${j}`,
      error: isError ? `boom ${j}` : undefined,
      tokens: { input: 100 + (j % 50), output: 20 + (j % 7), cacheRead: 1000 + j, cacheWrite: j % 11, reasoning: j % 5 },
    };
  });
}
