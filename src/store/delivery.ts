import type { TaskEvent } from './types.ts';

/** A subscriber's side of event delivery, shared by every backend's event hub. */
export interface Delivery {
  taskId: string;
  /** Highest seq queued for delivery: the next one wanted is lastSeq + 1. */
  lastSeq: number;
  onEvent: (event: TaskEvent) => void;
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
