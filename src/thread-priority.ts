// A child's background threads (executor, store writer) run at a lower CPU priority than its
// event loop, so that on a full CPU the thread answering clients gets a core first: the other
// threads take most of the CPU, and a loop waiting behind them was late by up to 70 ms on two
// cores (bench/RESULTS.md, "thirteenth session"). Linux lets a thread have its own nice value;
// elsewhere there is no id to give setpriority and the thread keeps its process's priority.
// A new thread inherits the priority of the thread that starts it.
import { access, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** Highest nice value (lowest priority) Linux has. */
const NICE_MAX = 19;

/** The kernel's id of the calling thread, or null where /proc/thread-self is not there. */
export function threadTid(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/**
 * Raises the calling thread's nice value by `increment` (at most to 19): lowers its priority,
 * which needs no privilege. Returns the thread's nice value after, or null where a thread has
 * no priority of its own or the kernel refused.
 */
export function lowerThreadPriority(increment: number): number | null {
  const tid = threadTid();
  if (tid === null) return null;
  try {
    if (increment > 0) setPriority(tid, Math.min(NICE_MAX, getPriority(tid) + increment));
    return getPriority(tid);
  } catch {
    return null;
  }
}

/**
 * Starts libuv's thread pool now, from the calling thread, if no thread of the process has yet.
 * The pool serves every thread's file and DNS work, the event loop's included; started first
 * by a thread of lower priority (an agent's DNS lookup), all of its threads would inherit that.
 */
export function startThreadPool(): void {
  // The pool's threads are created when the first request is queued, before this returns.
  access('/', () => {});
}
