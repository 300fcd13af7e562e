// A task's events as Server-Sent Events. Each event's `id:` is its seq, so a client that
// reconnects with Last-Event-ID resumes right after the last event it saw, on any child: the
// events come from the store, not from the process running the task. Proxies cut a stream
// that stays silent past their idle timeout (HAProxy's `timeout tunnel` does not cover SSE;
// shared/research/haproxy_sea.md §1.1), so an idle stream carries a `: ping` comment.
import { PassThrough } from 'node:stream';
import type { Store, TaskEvent } from '../../store/index.ts';

/** Reconnect delay suggested to EventSource clients (milliseconds). */
const RETRY_MS = 2000;
// A client that stops reading is cut off once this much is buffered for it; it can
// reconnect with Last-Event-ID and lose nothing.
const MAX_BUFFERED_BYTES = 4 << 20;

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  // nginx and some CDNs buffer responses unless told not to.
  'x-accel-buffering': 'no',
};

/** `done` is the final event (terminal status, then the stream ends); `status` a status
 * change the store published; `progress` anything the agent published. */
export function eventName(e: TaskEvent): 'done' | 'status' | 'progress' {
  if (e.final) return 'done';
  const data = e.event as { type?: unknown } | null;
  return typeof data === 'object' && data !== null && data.type === 'status' ? 'status' : 'progress';
}

export function formatEvent(e: TaskEvent): string {
  return `id: ${e.seq}\nevent: ${eventName(e)}\ndata: ${JSON.stringify(e.event)}\n\n`;
}

export interface EventStreamOptions {
  store: Store;
  taskId: string;
  /** Deliver events after this seq. */
  after: number;
  heartbeatMs: number;
  /** Ends the stream without a final event (the child is draining; the client reconnects). */
  stop: AbortSignal;
}

/**
 * The response body: ends after the final event, on `stop`, or when the store drops the
 * subscription; when the client goes away (fastify destroys
 * the body on a closed response) the subscription and the heartbeat end with it.
 */
export function openEventStream(opts: EventStreamOptions): PassThrough {
  const body = new PassThrough();
  const write = (chunk: string) => {
    if (body.writableEnded || body.destroyed) return;
    if (body.writableLength > MAX_BUFFERED_BYTES) body.destroy();
    else body.write(chunk);
  };
  const heartbeat = setInterval(() => write(': ping\n\n'), opts.heartbeatMs);
  const end = () => {
    if (!body.writableEnded) body.end();
  };
  // Writing at once sends the headers, so the client knows the stream is open.
  write(`retry: ${RETRY_MS}\n\n`);
  // A subscription the store dropped ends the stream like a drain does: pings on a stream
  // nothing can reach would hold the client forever; it reconnects with Last-Event-ID.
  const unsubscribe = opts.store.subscribe(opts.taskId, opts.after, (event) => {
    write(formatEvent(event));
    if (event.final) end();
  }, end);
  opts.stop.addEventListener('abort', end, { once: true });
  body.once('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
    opts.stop.removeEventListener('abort', end);
  });
  if (opts.stop.aborted) end();
  return body;
}
