// What a chat turn adds to its session's history once it succeeds: the user's message (the
// turn's input) and the assistant's reply (the agent's result), as OpenAI-style messages.
import type { ChatMessage } from '../agent/types.ts';

/**
 * The turn's input as the user's message. The API submits a ChatMessage ({ role: 'user',
 * content, name? }); a string or an object's `content` (else `message`) string is taken too.
 */
export function userMessage(input: unknown): ChatMessage {
  const name = (input as { name?: unknown } | null)?.name;
  return { role: 'user', content: textOf(input, ['content', 'message']), ...(typeof name === 'string' && { name }) };
}

/** The agent's result as the assistant's reply: a string, or the `content` string of an object. */
export function assistantMessage(result: unknown): ChatMessage {
  return { role: 'assistant', content: textOf(result, ['content']) };
}

/** The history as the agent sees it: only well-formed messages, oldest first. */
export function historyOf(messages: readonly unknown[]): ChatMessage[] {
  return messages.filter(
    (m): m is ChatMessage => typeof m === 'object' && m !== null && typeof (m as ChatMessage).role === 'string' && typeof (m as ChatMessage).content === 'string',
  );
}

function textOf(value: unknown, fields: string[]): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    for (const f of fields) {
      const v = (value as Record<string, unknown>)[f];
      if (typeof v === 'string') return v;
    }
  }
  return JSON.stringify(value ?? null);
}
