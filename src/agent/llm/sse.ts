// Server-sent events → the `data` of each event, as the HTML standard's event-stream parsing
// describes it (fields by line, `data` lines joined with "\n", a blank line ends an event,
// lines starting with ":" are comments). Only `data` matters for chat completions.

export async function* sseData(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder(); // stream mode keeps a UTF-8 character split across chunks whole
  let buffer = '';
  let data: string[] = [];
  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = nextBreak(buffer, start); nl !== -1; nl = nextBreak(buffer, start)) {
      const line = buffer.slice(start, nl);
      // A "\r\n" pair is one line break; a lone "\r" at the very end may be half of one.
      start = buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? nl + 2 : nl + 1;
      if (line === '') {
        if (data.length > 0) yield data.join('\n');
        data = [];
      } else {
        const field = dataField(line);
        if (field !== undefined) data.push(field);
      }
    }
    buffer = buffer.slice(start);
  }
  buffer += decoder.decode();
  const tail = buffer === '' ? undefined : dataField(buffer.replace(/\r$/, ''));
  if (tail !== undefined) data.push(tail);
  // Some servers end the stream without the final blank line; their last event still counts.
  if (data.length > 0) yield data.join('\n');
}

function nextBreak(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 10) return i;
    if (c === 13) return i + 1 < s.length ? i : -1; // wait for the next chunk to see if "\n" follows
  }
  return -1;
}

function dataField(line: string): string | undefined {
  if (!line.startsWith('data')) return undefined;
  if (line.length === 4) return '';
  if (line[4] !== ':') return undefined;
  return line[5] === ' ' ? line.slice(6) : line.slice(5);
}
