import type { Socket } from 'node:net';
import { detachHandle, type ClientHandle } from '../../ipc/handles.ts';

/** How long a child keeps giving idle connections back after its event loop was last held. */
const HELD_MEMORY_MS = 30_000;
/**
 * A sweep late by more than max(interval, HELD_MIN_MS), with the loop's thread on the CPU for at
 * least HELD_MIN_MS of the wait, means a handler held the loop. Late without that much CPU time
 * is the kernel not running this thread (a busy machine), which rebinding cannot fix; the
 * minimum also keeps short one-off stalls, such as compiling a route on its first request, from
 * counting, even when a busy machine stretches them (seen: 16 ms of CPU over 44 ms).
 */
const HELD_MIN_MS = 25;
/**
 * Late sweeps in the first seconds after start do not count: a child that has just become
 * ready compiles its request path and collects its boot garbage on the loop's thread, and those
 * stalls showed 25–50 ms of CPU in one late gap 1–3 s after boot, in children that no handler
 * held (seen while the test suite ran on 2 cores).
 */
export const WARMUP_MS = 3000;
/**
 * The longest time between two sweeps. The loop is watched this often even when connections go
 * back later or never (rebind_idle_after = 0): the child paces its load reports by the watch.
 */
const WATCH_MS = 10;
/** Lateness samples kept per report interval for the event-loop lag p99 (100 s of sweeps). */
const LAG_SAMPLES = 10_000;

/**
 * CPU time the event loop's thread has used, in ms. Only this thread: executor threads and the
 * garbage collector's helpers run beside a free loop and must not make it look held.
 */
function cpuMs(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Gives keep-alive connections that sit idle back to the supervisor, which waits for the next
 * request on each and hands it, with the bytes read so far, to a free child.
 *
 * A connection stays with the child that accepted it, so a request arriving on it waits for
 * whatever that child is doing, even while another child is idle: with keep-alive clients and
 * a few CPU-heavy requests, light requests queue behind heavy ones on one child. Returning a
 * connection once it has been idle for `afterMs` binds each request after a pause late, as a
 * new connection is; a busy client (back-to-back requests, as a benchmark or a saturated proxy
 * pool sends) never pauses that long and stays where it is, paying nothing.
 *
 * A request that comes back this way costs the supervisor and the children about 0.3 ms of CPU
 * more (bench/RESULTS.md). That buys nothing while no handler holds the event loop, which is
 * how drover's own API behaves (agents run on executor threads): so connections go back only
 * while this child's loop has been held (a sweep came late while its thread was on the CPU)
 * within the last HELD_MEMORY_MS.
 *
 * Only a connection that read nothing since its last answer goes: its next request has not
 * begun, so no byte is left behind in this child's parser.
 *
 * The same watch tells the child how soon to report its load (heldLately, report-pace.ts), and
 * its lateness is the event-loop lag the child reports (takeLag): one timer, where node's
 * monitorEventLoopDelay would add a second one at the same rate.
 */
export class IdleReturn {
  private timer?: NodeJS.Timeout;
  private interval = 0;
  private sweptAt = 0;
  private cpuAt = 0;
  private heldAt = -Infinity;
  private countFrom = 0;
  /** How late each sweep since the last takeLag() came, ms. */
  private lateness: number[] = [];
  private readonly afterMs: number;
  private readonly warmupMs: number;
  private readonly idle: (before: number) => Iterable<Socket>;
  private readonly give: (client: ClientHandle) => void;

  constructor(afterMs: number, idle: (before: number) => Iterable<Socket>, give: (client: ClientHandle) => void, warmupMs = WARMUP_MS) {
    this.afterMs = afterMs;
    this.warmupMs = warmupMs;
    this.idle = idle;
    this.give = give;
  }

  /** Starts watching the event loop, and giving connections back when `afterMs` > 0. */
  start(): void {
    if (this.timer) return;
    // Checked every afterMs up to WATCH_MS: a connection goes after between afterMs and
    // afterMs + interval idle. (The timer runs in a child that gives nothing back too, to see
    // its loop held: ~100 wakeups/s.)
    this.interval = this.afterMs > 0 ? Math.min(WATCH_MS, Math.max(1, this.afterMs)) : WATCH_MS;
    this.sweptAt = performance.now();
    this.countFrom = this.sweptAt + this.warmupMs;
    this.cpuAt = cpuMs();
    this.timer = setInterval(() => this.sweep(), this.interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sweep(): void {
    const now = performance.now();
    const cpu = cpuMs();
    const wall = now - this.sweptAt;
    if (this.lateness.length < LAG_SAMPLES) this.lateness.push(Math.max(0, wall - this.interval));
    const late = wall > this.interval + Math.max(this.interval, HELD_MIN_MS);
    if (late && cpu - this.cpuAt >= HELD_MIN_MS && now >= this.countFrom) this.heldAt = now;
    this.sweptAt = now;
    this.cpuAt = cpu;
    if (this.afterMs <= 0 || !this.heldLately(now)) return;
    const idle = [...this.idle(now - this.afterMs)];
    for (const socket of idle) this.detach(socket);
  }

  /**
   * The event loop's lag since the last call: p99 of how late the sweeps came, in seconds (0
   * before the first sweep). A sweep due now but not yet run counts too, so a loop held right
   * now shows.
   */
  takeLag(): number {
    const d = this.lateness;
    if (this.timer) d.push(Math.max(0, performance.now() - this.sweptAt - this.interval));
    this.lateness = [];
    if (d.length === 0) return 0;
    d.sort((a, b) => a - b);
    return d[Math.min(d.length - 1, Math.floor(d.length * 0.99))]! / 1000;
  }

  /** Whether a handler held the event loop on the CPU within the last HELD_MEMORY_MS. */
  heldLately(now = performance.now()): boolean {
    return now - this.heldAt <= HELD_MEMORY_MS;
  }

  /** Gives these connections back now, whatever the loop did (a draining child hands its idle ones on). */
  giveBack(sockets: Iterable<Socket>): void {
    // Not one the server is closing (its last answer said Connection: close), nor one whose
    // last answer is still being written: the handle would leave with bytes not yet sent.
    for (const socket of [...sockets]) if (!socket.writableEnded && socket.writableLength === 0) this.detach(socket);
  }

  private detach(socket: Socket): void {
    const handle = detachHandle(socket);
    if (handle) this.give(handle);
  }
}
