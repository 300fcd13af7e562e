import http from 'node:http';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** A Server-Sent Events stream read the way an EventSource reads it (comments kept, too). */
export interface SseStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The whole body when the answer is not an event stream. */
  body: string;
  readonly events: SseEvent[];
  readonly comments: string[];
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  /** Resolves with the first event (past or future) that matches. */
  waitFor(pred: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

export const json = <T = Record<string, unknown>>(e: SseEvent) => JSON.parse(e.data) as T;

/** Opens a stream; resolves once the response headers are in (for a non-stream answer, once it ended). */
export function openSse(url: string, opts: { headers?: Record<string, string>; agent?: http.Agent } = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers: { accept: 'text/event-stream', ...opts.headers }, agent: opts.agent ?? false }, (res) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      let waiters: { pred: (e: SseEvent) => boolean; done: (e: SseEvent) => void }[] = [];
      let buf = '';
      let body = '';
      let endStream!: () => void;
      const ended = new Promise<void>((r) => (endStream = r));
      const stream: SseStream = {
        status: res.statusCode!,
        headers: res.headers,
        get body() {
          return body;
        },
        events,
        comments,
        ended,
        waitFor(pred, timeoutMs = 10_000) {
          const seen = events.find(pred);
          if (seen) return Promise.resolve(seen);
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => fail(new Error(`no matching SSE event in ${timeoutMs} ms; got ${JSON.stringify(events)}`)), timeoutMs);
            waiters.push({ pred, done: (e) => (clearTimeout(timer), ok(e)) });
          });
        },
        close: () => req.destroy(),
      };
      const isStream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (!isStream) return void (body += chunk);
        buf += chunk;
        let sep: number;
        while ((sep = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          const e: SseEvent = { id: undefined, event: 'message', data: '' };
          let hasData = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else {
              const colon = line.indexOf(':');
              const field = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'id') e.id = value;
              if (field === 'event') e.event = value;
              if (field === 'data') (e.data += (hasData ? '\n' : '') + value), (hasData = true);
            }
          }
          if (!hasData) continue;
          events.push(e);
          waiters = waiters.filter((w) => (w.pred(e) ? (w.done(e), false) : true));
        }
      });
      res.on('end', endStream);
      res.on('close', endStream);
      res.on('error', () => endStream());
      if (isStream) resolve(stream);
      else res.on('end', () => resolve(stream));
    });
    req.on('error', reject);
    req.end();
  });
}
