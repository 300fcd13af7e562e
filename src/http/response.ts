import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

/** A connection's counters (LoadTracker, src/balancer/child/load.ts). */
export interface SocketUse {
  readonly socket: Socket;
  /** When the connection opened (performance.now()). */
  readonly openedAt: number;
  active: number;
  served: number;
  /** When the last request finished and none was left (performance.now()), and the bytes read by then. */
  idleAt: number;
  bytesAtIdle: number;
}

/**
 * A child's HTTP response: node's, with the fields drover writes on every request declared up
 * front. Added to each response later (symbol-keyed, as they were), they made every site that
 * stores them megamorphic: a perf profile of a child under keep-alive load put those stores at
 * about 0.4 µs of a 33 µs request.
 */
export class ChildResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** performance.now() when the request started (LoadTracker). */
  startedAt = 0;
  /** Its connection's counters (LoadTracker). */
  socketUse: SocketUse | undefined = undefined;
  /** The route pattern that answered it, for the request metrics (route-label.ts). */
  route: string | undefined = undefined;
  /** Told when the answer becomes a wait on I/O: an event stream's headers go out, or a long poll starts waiting (LoadTracker). */
  onStream: ((res: ChildResponse) => void) | undefined = undefined;
  /** Its answer is an event stream under way (LoadTracker). */
  streaming = false;
  /** Told once when the response closes, answered or aborted (LoadTracker). */
  onClose: ((res: ChildResponse) => void) | undefined = undefined;

  // Node emits 'close' on every response, finished or aborted, through emit(): watching it here
  // costs a comparison per event, where a 'close' listener per request cost an event-table
  // entry and its removal (bench/RESULTS.md, "Cheap requests").
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'close' && this.onClose !== undefined) {
      const onClose = this.onClose;
      this.onClose = undefined;
      onClose(this);
    }
    return super.emit(event, ...args);
  }

  // Fastify writes a reply's headers with writeHead(status, headers): the one place every
  // answer passes once, so the content type is looked at here rather than in a hook per request.
  override writeHead(statusCode: number, reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    super.writeHead(statusCode, reason as string, headers);
    if (this.onStream !== undefined && isEventStream(this, typeof reason === 'string' ? headers : reason)) this.onStream(this);
    return this;
  }
}

function isEventStream(res: ServerResponse, given: OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined): boolean {
  let type: unknown = res.getHeader('content-type');
  if (type === undefined && given !== undefined && !Array.isArray(given)) type = given['content-type'];
  return typeof type === 'string' && type.startsWith('text/event-stream');
}
