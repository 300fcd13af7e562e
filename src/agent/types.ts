// The contract between drover and the people who write agents. An agent is a module whose
// default export is either the run function itself or an object with a `run` method:
//
//   export default async function run(input, ctx) { ... }
//   export default { async run(input, ctx) { ... } } satisfies Agent;
//
// (A module with no default export but a named `run` export is accepted too.) drover calls
// run once per task attempt; a redelivered task runs again with `ctx.attempt` + 1, which is
// why side effects belong inside `ctx.tool`.

export type AgentRun = (input: unknown, ctx: AgentContext) => Promise<unknown>;

export interface Agent {
  run: AgentRun;
}

/** What an agent module may export as default. */
export type AgentExport = AgentRun | Agent;

export interface AgentContext {
  /** The task being run. */
  readonly taskId: string;
  /** 1 on the first run, +1 each time the task is redelivered (lease expiry, retry). */
  readonly attempt: number;
  /** The tenant that submitted the task (from its API key). */
  readonly tenant: string;
  /** Fires on the task's timeout and on cancel; pass it to everything that waits. */
  readonly signal: AbortSignal;
  /** OpenAI-compatible chat over the configured providers. */
  readonly llm: LlmClient;
  /**
   * Runs `fn` once per task and `key`: the result is stored, so a redelivered task gets the
   * stored result back instead of repeating the side effect. The result must be JSON.
   */
  tool<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Publishes an event to the task's stream (GET /v1/tasks/:id/events). Must be JSON. */
  progress(event: unknown): void;
  /** Present when the task is a turn of a chat session. */
  readonly session?: AgentSession;
  readonly log: AgentLogger;
}

export interface AgentSession {
  readonly id: string;
  /** The conversation so far, oldest first, not including this turn's input. */
  readonly history: readonly ChatMessage[];
}

/** pino-style: `log.info('text')` or `log.info({ some: 'fields' }, 'text')`. */
export type LogFn = (objOrMsg: object | string, msg?: string) => void;

export interface AgentLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** Optional participant name (OpenAI `name`). */
  name?: string;
  /** On `role: 'tool'`, the call this message answers. */
  tool_call_id?: string;
}

export interface ChatRequest {
  messages: ChatMessage[];
  /** Overrides the provider's configured model. */
  model?: string;
  temperature?: number;
  max_tokens?: number;
  stop?: string | string[];
  /** Further body fields sent as they are (provider-specific options). */
  extra?: Record<string, unknown>;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** True when the provider reported no usage and these are chars/4 estimates. */
  estimated: boolean;
}

export interface ChatResponse {
  content: string;
  /** 'stop', 'length', … as the provider said; null if it said nothing. */
  finishReason: string | null;
  model: string;
  provider: string;
  usage: Usage;
}

export interface LlmCallOptions {
  /** Usually `ctx.signal`; aborting it ends the call with `LLM_ABORTED`. */
  signal?: AbortSignal;
  /** A configured provider name; default: `llm.default_provider`. */
  provider?: string;
}

/**
 * A streamed completion: iterate it for the content deltas as they arrive; `done` settles after
 * the last one with the whole response (content, finish reason, usage), or with the error that
 * ended the stream. Breaking out of the loop early closes the request (`done` then rejects with
 * `LLM_ABORTED`).
 */
export interface ChatStream extends AsyncIterable<string> {
  readonly done: Promise<ChatResponse>;
}

/** Errors are `LlmError` (src/agent/errors.ts) with a stable `code`. */
export interface LlmClient {
  chat(req: ChatRequest, opts?: LlmCallOptions): Promise<ChatResponse>;
  stream(req: ChatRequest, opts?: LlmCallOptions): ChatStream;
}
