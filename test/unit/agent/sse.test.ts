import { describe, expect, it } from 'vitest';
import { sseData } from '../../../src/agent/llm/sse.ts';

async function collect(parts: Array<string | Uint8Array>): Promise<string[]> {
  async function* source() {
    yield* parts;
  }
  const out: string[] = [];
  for await (const d of sseData(source())) out.push(d);
  return out;
}

describe('sseData', () => {
  it('yields the data of each event, in order', async () => {
    expect(await collect(['data: {"a":1}\n\ndata: [DONE]\n\n'])).toEqual(['{"a":1}', '[DONE]']);
  });

  it('puts events split anywhere across chunks back together, CRLF included', async () => {
    const text = 'data: first\r\n\r\ndata:second\r\n\r\ndata: third\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      expect(await collect([text.slice(0, cut), text.slice(cut)])).toEqual(['first', 'second', 'third']);
    }
  });

  it('keeps a UTF-8 character whole when its bytes are split between chunks', async () => {
    const bytes = new TextEncoder().encode('data: héllo ✓\n\n');
    const cut = bytes.indexOf(0xe2) + 1; // inside the 3-byte check mark
    expect(await collect([bytes.slice(0, cut), bytes.slice(cut)])).toEqual(['héllo ✓']);
  });

  it('joins multi-line data, skips comments and other fields', async () => {
    expect(await collect([': keep-alive\n', 'event: x\nid: 3\ndata: a\ndata: b\n\n'])).toEqual(['a\nb']);
  });

  it('yields a last event that has no closing blank line', async () => {
    expect(await collect(['data: one\n\ndata: [DONE]'])).toEqual(['one', '[DONE]']);
  });
});
