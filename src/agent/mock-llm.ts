// The `mock` provider: a real OpenAI-compatible HTTP server on loopback, so drover runs with no
// network and no API key, and tests and benchmarks exercise the real client, pools and sockets.
// Its answer is deterministic ("echo: " + the last user message); latency, a failure rate and a
// scripted sequence of answers make the slow, flaky and rate-limited cases reproducible.
// A request in flight costs one timer and its socket (or HTTP/2 stream), so tens of thousands can
// wait at once. With `http2` it speaks HTTP/2 without TLS (prior knowledge, h2c), which undici
// can be told to use, so tests and benchmarks see how many connections a client really opens.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2cServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { ProviderConfig } from '../config/schema.ts';

export interface MockLlmOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Time to answer (a stream spreads its chunks over it). Default 0. */
  latencyMs?: number;
  /** Share of requests answered 503, in [0, 1]. Default 0. */
  failureRate?: number;
  /** Source of randomness for failureRate; tests make it deterministic. */
  random?: () => number;
  /** Largest request body accepted (413 above). Default 10 MiB. */
  bodyLimitBytes?: number;
  /** Speak HTTP/2 over plain TCP (h2c, prior knowledge) instead of HTTP/1.1. Default false. */
  http2?: boolean;
}

type Req = IncomingMessage | Http2ServerRequest;
/** What the mock uses of a response, common to HTTP/1.1's and HTTP/2's compatibility API. */
interface Res {
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  once(event: 'close', fn: () => void): unknown;
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string): unknown;
  end(): unknown;
  end(body: string): unknown;
}

/** One scripted answer; scripted answers are used in order, before any random behaviour. */
export interface MockStep {
  /** Default 200. A non-2xx answer carries an OpenAI-style error body unless `body` is given. */
  status?: number;
  headers?: Record<string, string>;
  /** Overrides the server's latency for this answer. */
  latencyMs?: number;
  /** A stream's first chunk goes out after this long (default half the latency); the rest follow by the latency. */
  firstByteMs?: number;
  /** Overrides the reply text of a 200. */
  content?: string;
  /** Sent as the raw body instead of a completion (to test unreadable answers). */
  body?: string;
}

export interface MockStats {
  /** POST /v1/chat/completions received. */
  requests: number;
  /** Of those, asked to stream. */
  streams: number;
  /** Chat requests being answered right now, and the most there have been at once. */
  inFlight: number;
  maxInFlight: number;
  /** Answers sent, by status code. */
  byStatus: Record<string, number>;
  /** Requests whose client went away before the answer was complete. */
  aborted: number;
  /** Authorization header of the latest chat request. */
  lastAuthorization: string | undefined;
  /** TCP connections accepted (HTTP/1.1: about one per concurrent request; HTTP/2: a few). */
  connections: number;
}

export interface MockLlm {
  /** Base URL to use as a provider's base_url, e.g. http://127.0.0.1:41234/v1. */
  url: string;
  /** Live counters. */
  readonly stats: MockStats;
  /** Appends scripted answers. */
  script(...steps: MockStep[]): void;
  /** Zeroes the counters and drops the unused script. */
  reset(): void;
  /** Stops listening, drops open connections and pending answers. */
  close(): Promise<void>;
}

const MODELS = ['mock-1'];

const freshStats = (): MockStats => ({
  requests: 0, streams: 0, inFlight: 0, maxInFlight: 0, byStatus: {}, aborted: 0, lastAuthorization: undefined, connections: 0,
});

export async function startMockLlm(opts: MockLlmOptions = {}): Promise<MockLlm> {
  const host = opts.host ?? '127.0.0.1';
  const latencyMs = opts.latencyMs ?? 0;
  const failureRate = opts.failureRate ?? 0;
  const random = opts.random ?? Math.random;
  const bodyLimit = opts.bodyLimitBytes ?? 10 * 1024 * 1024;
  let stats = freshStats();
  let queue: MockStep[] = [];
  let seq = 0;
  const timers = new Set<NodeJS.Timeout>();

  // One pending timer per response at a time; the response closing early cancels it.
  const scheduler = (res: Res) => {
    let current: NodeJS.Timeout | undefined;
    res.once('close', () => {
      if (current) {
        clearTimeout(current);
        timers.delete(current);
      }
    });
    return (ms: number, fn: () => void) => {
      const t = setTimeout(() => {
        timers.delete(t);
        current = undefined;
        if (!res.destroyed) fn();
      }, ms);
      current = t;
      timers.add(t);
    };
  };

  const send = (res: Res, status: number, body: string, headers: Record<string, string> = {}) => {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };

  const chat = (req: Req, res: Res, raw: string) => {
    stats.requests++;
    stats.lastAuthorization = req.headers.authorization;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    res.once('close', () => {
      stats.inFlight--;
      // Not writableFinished: over HTTP/2 a stream the client reset counts as finished.
      if (!res.writableEnded) stats.aborted++;
    });
    let body: { messages?: unknown; stream?: unknown; model?: unknown; stream_options?: { include_usage?: unknown } };
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 400, errorBody(400, 'request body is not JSON'));
    }
    if (!Array.isArray(body?.messages)) return send(res, 400, errorBody(400, 'messages must be an array'));
    const later = scheduler(res);
    const step = queue.shift() ?? (failureRate > 0 && random() < failureRate ? { status: 503 } : {});
    const status = step.status ?? 200;
    const wait = step.latencyMs ?? latencyMs;
    if (status !== 200 || step.body !== undefined) {
      return later(wait, () => send(res, status, step.body ?? errorBody(status, 'mock failure'), step.headers));
    }
    const messages = body.messages as Array<{ role?: unknown; content?: unknown }>;
    const content = step.content ?? `echo: ${lastUserText(messages)}`;
    const model = typeof body.model === 'string' ? body.model : MODELS[0]!;
    const usage = {
      prompt_tokens: Math.ceil(messages.reduce((n, m) => n + text(m.content).length, 0) / 4),
      completion_tokens: Math.ceil(content.length / 4),
      total_tokens: 0,
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const id = `chatcmpl-mock-${++seq}`;
    const created = Math.floor(Date.now() / 1000);
    if (body.stream !== true) {
      return later(wait, () => send(res, 200, JSON.stringify({
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage,
      }), step.headers));
    }
    stats.streams++;
    const chunk = (delta: object, finish: string | null) => JSON.stringify({
      id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }],
    });
    const events = [chunk({ role: 'assistant', content: '' }, null)];
    for (const piece of pieces(content)) events.push(chunk({ content: piece }, null));
    events.push(chunk({}, 'stop'));
    if (body.stream_options?.include_usage === true) {
      events.push(JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage }));
    }
    events.push('[DONE]');
    const firstByte = Math.min(step.firstByteMs ?? wait / 2, wait);
    const gap = (wait - firstByte) / events.length;
    const next = (i: number) => {
      res.write(`data: ${events[i]}\n\n`);
      if (i + 1 < events.length) later(gap, () => next(i + 1));
      else res.end();
    };
    later(firstByte, () => {
      stats.byStatus[200] = (stats.byStatus[200] ?? 0) + 1;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...step.headers });
      next(0);
    });
  };

  const handle = (req: Req, res: ServerResponse | Http2ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/v1/models') {
      return send(res, 200, JSON.stringify({
        object: 'list', data: MODELS.map((id) => ({ id, object: 'model', created: 0, owned_by: 'drover' })),
      }));
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      req.resume();
      return send(res, 404, errorBody(404, `no route ${req.method} ${path}`));
    }
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size <= bodyLimit) parts.push(b);
    });
    req.on('end', () => {
      if (size > bodyLimit) return send(res, 413, errorBody(413, 'request body too large'));
      chat(req, res, Buffer.concat(parts).toString('utf8'));
    });
  };
  // Thousands of streams at once on one connection: the client's own cap is what should bind.
  const server = opts.http2
    ? createH2cServer({ settings: { maxConcurrentStreams: 10_000 } }, handle)
    : createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, handle);
  // keepAliveTimeout above is longer than any client's idle timeout, so the client, not us, closes
  // idle connections (no reset races). Sockets are kept so close() can drop them on either kind.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Thousands of clients connect at once in benchmarks; the kernel caps this at net.core.somaxconn.
    // exclusive: in a cluster child, a shared listen would go through the primary, and every
    // child asking for port 0 would get the same port, served round robin by all of them.
    server.listen({ host, port: opts.port ?? 0, backlog: 65_535, exclusive: true }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`,
    get stats() {
      return stats;
    },
    script(...steps) {
      queue.push(...steps);
    },
    reset() {
      stats = freshStats();
      queue = [];
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}

/**
 * The default config's provider `mock` has an empty base_url, meaning "the built-in mock": this
 * starts it (with the provider's mock_latency_ms and mock_failure_rate) and returns the providers
 * with its url filled in, ready for createLlmClient. Other providers are returned as they are.
 * The built-in mock speaks HTTP/2 unless the provider's http2 is "off": over plain http, "auto"
 * would mean HTTP/1.1 (ALPN needs TLS), a connection per call, and at most `connections` calls
 * on the wire; since drover runs both ends, it tells the client to use h2c instead.
 */
export async function startConfiguredMock(
  providers: Record<string, ProviderConfig>,
): Promise<{ providers: Record<string, ProviderConfig>; mock: MockLlm | undefined }> {
  const cfg = providers.mock;
  if (!cfg || cfg.base_url) return { providers, mock: undefined };
  const http2 = cfg.http2 !== 'off';
  const mock = await startMockLlm({ latencyMs: cfg.mock_latency_ms, failureRate: cfg.mock_failure_rate, http2 });
  return { providers: { ...providers, mock: { ...cfg, base_url: mock.url, http2: http2 ? 'h2c' : 'off' } }, mock };
}

function errorBody(status: number, message: string): string {
  const type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return JSON.stringify({ error: { message, type, code: status } });
}

function text(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p: { text?: unknown }) => (typeof p?.text === 'string' ? p.text : '')).join('');
  return '';
}

function lastUserText(messages: Array<{ role?: unknown; content?: unknown }>): string {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]?.role === 'user') return text(messages[i]!.content);
  return '';
}

/** The reply cut at word boundaries into at most eight pieces that join back to it exactly. */
function pieces(content: string): string[] {
  const words = content.match(/\S+\s*|\s+/g) ?? [];
  const per = Math.ceil(words.length / 8);
  const out: string[] = [];
  for (let i = 0; i < words.length; i += per) out.push(words.slice(i, i + per).join(''));
  return out;
}
