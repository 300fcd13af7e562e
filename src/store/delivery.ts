import type { SubscriptionEnd, TaskEvent } from './types.ts';

/** A subscriber's side of event delivery, shared by every backend's event hub. */
export interface Delivery {
  taskId: string;
  /** Highest seq queued for delivery: the next one wanted is lastSeq + 1. */
  lastSeq: number;
  onEvent: (event: TaskEvent) => void;
  onEnd: SubscriptionEnd | undefined;
  queue: TaskEvent[];
  scheduled: boolean;
  closed: boolean;
}

/**
 * Queues `event` and delivers the queue in order on a microtask: never synchronously, so a
 * subscriber always gets its unsubscribe function before its first event (the contract).
 */
export function deliverLater(sub: Delivery, event: TaskEvent): void {
  sub.lastSeq = event.seq;
  sub.queue.push(event);
  if (sub.scheduled) return;
  sub.scheduled = true;
  queueMicrotask(() => {
    sub.scheduled = false;
    while (!sub.closed && sub.queue.length > 0) sub.onEvent(sub.queue.shift() as TaskEvent);
  });
}

/**
 * Ends a subscription the store can no longer serve: events already queued are delivered
 * first, then `onEnd`, once, on a microtask (never within the call that ended it).
 */
export function endLater(sub: Delivery, reason: string): void {
  if (sub.closed) return;
  queueMicrotask(() => {
    if (sub.closed) return;
    while (sub.queue.length > 0) sub.onEvent(sub.queue.shift() as TaskEvent);
    if (sub.closed) return;
    sub.closed = true;
    sub.onEnd?.(reason);
  });
}
