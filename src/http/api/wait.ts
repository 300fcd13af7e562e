// Long-polling a task: `?wait=N` (or `Prefer: wait=N`, RFC 7240) holds the answer until the
// task reaches a terminal status or N seconds pass. The wait follows the task's event stream
// (store.subscribe), which any process's writes reach, so it costs no polling of its own.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../../store/index.ts';
import type { ChildResponse } from '../response.ts';

/**
 * Seconds to wait: the query's value (already validated against limits.max_wait), else the
 * Prefer header's, clamped to maxWait (a preference is a hint, so an oversized or garbled one
 * is not an error), else 0.
 */
export function requestedWait(request: FastifyRequest, maxWait: number): number {
  const query = (request.query as { wait?: number }).wait;
  if (query !== undefined) return query;
  const prefer = request.headers.prefer;
  const match = typeof prefer === 'string' ? /(?:^|[,;\s])wait\s*=\s*"?(\d+(?:\.\d+)?)"?/i.exec(prefer) : null;
  return match?.[1] ? Math.min(Number(match[1]), maxWait) : 0;
}

/**
 * Resolves true once the task's final event is stored, false when `ms` pass, the client goes
 * away, `stop` fires (the child is draining) or the store drops the subscription (the caller
 * answers with the task as it stands). The subscription ends either way.
 */
export function waitForFinal(store: Store, taskId: string, ms: number, reply: FastifyReply, stop: AbortSignal): Promise<boolean> {
  if (ms <= 0 || stop.aborted) return Promise.resolve(false);
  // A long poll waits on the store, not on the CPU: like an event stream, it does not fill
  // the child up to balancer.child_target (LoadTracker), so a few hundred of them cannot
  // stop a node from taking new work.
  const raw = reply.raw as ChildResponse;
  raw.onStream?.(raw);
  return new Promise((resolve) => {
    let unsubscribe = () => {};
    const finish = (final: boolean) => {
      clearTimeout(timer);
      unsubscribe();
      reply.raw.off('close', onClose);
      stop.removeEventListener('abort', onClose);
      resolve(final);
    };
    const onClose = () => finish(false);
    const timer = setTimeout(onClose, ms);
    reply.raw.once('close', onClose);
    stop.addEventListener('abort', onClose, { once: true });
    // Delivery is never synchronous, so `unsubscribe` is assigned before the first event.
    unsubscribe = store.subscribe(taskId, 0, (event) => {
      if (event.final) finish(true);
    }, onClose);
  });
}
