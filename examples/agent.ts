// The built-in example agent: what drover runs when executor.agent is empty, and a template
// for your own. It answers a question (or a chat message) with one LLM call, after a "tool"
// step, and reports its progress. With the default config the LLM is drover's mock, which
// answers "echo: <your message>".
//
// Try it:  curl -s 'localhost:8080/v1/tasks?wait=10' -H 'content-type: application/json' -d '{"input":"what is drover?"}'
//
// Input: a string, or { "content": "..." } (a chat turn's message looks the same).
// Result: { content, words, turn, model, tokens }; for a chat turn, `content` becomes the
// assistant's message in the session history.
import type { AgentContext, ChatMessage } from '../src/agent/types.ts';

export default async function run(input: unknown, ctx: AgentContext) {
  const question = textOf(input);
  const history = ctx.session?.history ?? [];

  // Side effects (API calls that change something, e-mails, payments) belong in ctx.tool: the
  // result is stored per task and key, so a task that runs again (its child crashed, its
  // attempt failed) gets the stored result instead of doing it twice.
  ctx.progress({ type: 'step', step: 'tool', tool: 'word-count' });
  const stats = await ctx.tool('word-count', async () => ({
    words: question.split(/\s+/).filter(Boolean).length,
  }));

  ctx.progress({ type: 'step', step: 'llm' });
  const messages: ChatMessage[] = [
    { role: 'system', content: 'You are a concise assistant.' },
    ...history,
    { role: 'user', content: question },
  ];
  // Pass ctx.signal to everything that waits: it fires on the task's timeout and on cancel.
  const reply = await ctx.llm.chat({ messages }, { signal: ctx.signal });
  ctx.log.debug({ tokens: reply.usage.totalTokens }, 'answered');

  return {
    content: reply.content,
    words: stats.words,
    turn: history.filter((m) => m.role === 'user').length + 1,
    model: reply.model,
    tokens: reply.usage.totalTokens,
  };
}

function textOf(input: unknown): string {
  if (typeof input === 'string') return input;
  const content = (input as { content?: unknown } | null)?.content;
  if (typeof content === 'string') return content;
  return JSON.stringify(input ?? null);
}
