// The OpenAI chat-completions wire format: the body we send and the reading of what comes back.
// Reading is defensive: a provider that answers 200 with something else is LLM_BAD_RESPONSE,
// not a TypeError deep inside an agent.
import { LlmError } from '../errors.ts';
import type { ChatMessage, ChatRequest, ChatResponse, Usage } from '../types.ts';

/** The pre-call estimate the token budget uses: about four characters per token. */
export function estimateTokens(text: string | readonly ChatMessage[]): number {
  if (typeof text === 'string') return Math.ceil(text.length / 4);
  let chars = 0;
  for (const m of text) chars += m.content.length;
  return Math.ceil(chars / 4);
}

export function requestBody(req: ChatRequest, model: string, stream: boolean): string {
  const body: Record<string, unknown> = { ...req.extra, model: req.model ?? model, messages: req.messages };
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.max_tokens !== undefined) body.max_tokens = req.max_tokens;
  if (req.stop !== undefined) body.stop = req.stop;
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true }; // so the last chunk carries the real usage
  }
  return JSON.stringify(body);
}

interface WireUsage {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  total_tokens?: unknown;
}

export function readUsage(raw: unknown): Usage | undefined {
  if (!isObject(raw)) return undefined;
  const u = raw as WireUsage;
  if (typeof u.prompt_tokens !== 'number' || typeof u.completion_tokens !== 'number') return undefined;
  const total = typeof u.total_tokens === 'number' ? u.total_tokens : u.prompt_tokens + u.completion_tokens;
  return { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, totalTokens: total, estimated: false };
}

export function estimatedUsage(messages: readonly ChatMessage[], content: string): Usage {
  const promptTokens = estimateTokens(messages);
  const completionTokens = estimateTokens(content);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, estimated: true };
}

export function readCompletion(json: unknown, provider: string, req: ChatRequest, fallbackModel: string): ChatResponse {
  if (!isObject(json)) throw bad(provider, 'the completion is not a JSON object');
  const choice: unknown = Array.isArray(json.choices) ? json.choices[0] : undefined;
  const message = isObject(choice) ? choice.message : undefined;
  if (!isObject(message) || !(typeof message.content === 'string' || message.content === null)) {
    throw bad(provider, 'no choices[0].message.content in the completion');
  }
  const content = message.content ?? '';
  return {
    content,
    finishReason: isObject(choice) && typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
    model: typeof json.model === 'string' ? json.model : fallbackModel,
    provider,
    usage: readUsage(json.usage) ?? estimatedUsage(req.messages, content),
  };
}

export interface ChunkDelta {
  content: string;
  finishReason: string | null;
  model: string | undefined;
  usage: Usage | undefined;
}

/** One `chat.completion.chunk`. The last chunk may carry only usage and no choices. */
export function readChunk(data: string, provider: string): ChunkDelta {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch (err) {
    throw bad(provider, `stream chunk is not JSON: ${data.slice(0, 200)}`, err);
  }
  if (!isObject(json)) throw bad(provider, 'stream chunk is not an object');
  if (isObject(json.error)) throw bad(provider, `stream error: ${String(json.error.message ?? 'unknown')}`);
  const choice = Array.isArray(json.choices) ? json.choices[0] : undefined;
  const delta = isObject(choice) ? choice.delta : undefined;
  return {
    content: isObject(delta) && typeof delta.content === 'string' ? delta.content : '',
    finishReason: isObject(choice) && typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
    model: typeof json.model === 'string' ? json.model : undefined,
    usage: readUsage(json.usage),
  };
}

/** The message out of an OpenAI-style error body, for the error we raise. */
export function errorDetail(text: string): string {
  try {
    const json: unknown = JSON.parse(text);
    if (isObject(json) && isObject(json.error) && typeof json.error.message === 'string') return json.error.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 200);
}

export function bad(provider: string, message: string, cause?: unknown): LlmError {
  return new LlmError('LLM_BAD_RESPONSE', `provider ${provider}: ${message}`, { provider, cause });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
