import { ServerResponse, type IncomingMessage } from 'node:http';
import type { SocketUse } from './load.ts';

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
}
