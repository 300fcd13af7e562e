import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import type { Socket } from 'node:net';
import type { ClientHandle, ListenHandle } from '../balancer/supervisor/listen.ts';
import { isHeard, isSettled, type Target } from '../balancer/supervisor/target.ts';
import { limitNeedsSending, type Steering } from '../balancer/supervisor/steering.ts';
import { asChildMessage, type ChildHandles, type HandleArg, type SupervisorHandles, type IdleOnDrain, type LoadReport, type SupervisorMessage } from '../ipc/messages.ts';

export type ChildState = 'starting' | 'ready' | 'draining' | 'exited';

const STDERR_LINES = 20;

/** What a child tells the supervisor, as events. */
export interface ChildEvents {
  ready: [];
  /** A load report arrived (read it from `report`). */
  report: [];
  'want-listen': [];
  /** A message that failed its check. */
  invalid: [message: unknown];
  /** A copy of the listening socket it was asked for, or none (it could not, or it exited). */
  lent: [copy: ListenHandle | undefined];
  /** A connection it will not serve; and one idle between requests. */
  back: [client: ClientHandle];
  idle: [client: ClientHandle];
  unlistened: [];
  metrics: [id: number, metrics: unknown[]];
  exit: [code: number | null, signal: string | null];
}

/**
 * The supervisor's view of one child process: its state, its last load report, and what was
 * sent to it since. Only this class changes them; the supervisor reads.
 */
export class ChildHandle extends EventEmitter<ChildEvents> implements Target {
  readonly startedAt = Date.now();
  private current: ChildState = 'starting';
  private readyTime?: number;
  private lastMessageAt = Date.now();
  private lastReport?: LoadReport;
  /** Connections sent; the report's `received` tells how many arrived. */
  private sent = 0;
  /** The accept limit and spread flag last sent (see DirectAccept). */
  private lastSent: { limit?: number; spread?: boolean } = {};
  private reason?: string;
  private replacing: boolean;
  private bootFailure?: string;
  private readonly stderrTail: string[] = [];
  private killTimer?: NodeJS.Timeout;

  readonly id: number;
  readonly slot: number;
  readonly generation: number;
  readonly worker: Worker;
  readonly target: number;
  /** How often the child sends a heartbeat (supervisor.heartbeat_interval), in ms. */
  private readonly heartbeatMs: number;

  /** `replacement`: forked to replace another child (a reload, a memory replacement). */
  constructor(id: number, slot: number, generation: number, worker: Worker, target: number, replacement: boolean, heartbeatMs: number) {
    super();
    this.heartbeatMs = heartbeatMs;
    this.replacing = replacement;
    this.id = id;
    this.slot = slot;
    this.generation = generation;
    this.worker = worker;
    this.target = target;
    worker.on('message', (msg: unknown, handle?: unknown) => this.onMessage(msg, handle));
    worker.on('exit', (code: number | null, signal: string | null) => {
      // A copy of the socket asked for and never sent: whoever waits for it stops waiting.
      this.emit('lent', undefined);
      this.current = 'exited';
      clearTimeout(this.killTimer);
      this.emit('exit', code, signal);
    });
    // Workers that die while a message is being written make the channel emit EPIPE.
    worker.on('error', () => {});
    worker.process.stderr?.setEncoding('utf8');
    worker.process.stderr?.on('data', (chunk: string) => {
      process.stderr.write(chunk);
      for (const line of chunk.split('\n')) if (line.trim()) this.stderrTail.push(line);
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - STDERR_LINES));
    });
  }

  get state(): ChildState {
    return this.current;
  }

  /** Epoch ms it became ready; undefined while it never was. */
  get readyAt(): number | undefined {
    return this.readyTime;
  }

  /** Epoch ms of its last message: a ready child that stays silent is hung. */
  get lastSeen(): number {
    return this.lastMessageAt;
  }

  get report(): LoadReport | undefined {
    return this.lastReport;
  }

  /** Why it was drained or terminated (undefined: it exited by itself). */
  get drainReason(): string | undefined {
    return this.reason;
  }

  /** Forked to replace another child; not counted as live until the replacement is done. */
  get isReplacement(): boolean {
    return this.replacing;
  }

  /** The replacement is done: from now on it holds its slot like any child. */
  tookOver(): void {
    this.replacing = false;
  }

  /** What it said when its boot failed, if it did. */
  get bootError(): string | undefined {
    return this.bootFailure;
  }

  get pid(): number | undefined {
    return this.worker.process.pid;
  }

  get stderr(): string[] {
    return [...this.stderrTail];
  }

  load(): number {
    const r = this.lastReport;
    // A connection handed over counts as it will once reported: a connection and the request
    // it brings. Counting 1 would make a child that has not reported yet look half as loaded.
    const inTransit = this.sent - (r?.received ?? 0);
    return (r ? r.connections + r.inflight : 0) + 2 * inTransit;
  }

  busy(): number {
    const r = this.lastReport;
    const inTransit = this.sent - (r?.received ?? 0);
    return (r ? r.inflight - (r.streams ?? 0) : 0) + inTransit;
  }

  heard(): boolean {
    return isHeard(Date.now() - this.lastMessageAt, this.heartbeatMs);
  }

  settled(): boolean {
    return isSettled(this.sent, this.lastReport?.received ?? 0, Date.now() - this.lastMessageAt, this.heartbeatMs);
  }

  accepts(): boolean {
    return this.state === 'ready';
  }

  handoff(socket: Socket, head: Buffer | undefined, done: (err: Error | null) => void): void {
    this.sent++;
    const msg: SupervisorMessage = head ? { t: 'conn', head: head.toString('base64') } : { t: 'conn' };
    try {
      this.worker.send(msg, socket, done);
    } catch (err) {
      done(err as Error);
    }
  }

  /** Answers `want-listen`: the shared socket (or none) and the limit. */
  giveListen(handle: ListenHandle | undefined, limit: number, spread: boolean): void {
    this.lastSent = { limit, spread };
    this.send({ t: 'listen', limit, spread }, handle);
  }

  /** Sends the steering's limit when it is worth a message (see limitNeedsSending). */
  setLimit(next: Steering): void {
    if (!limitNeedsSending(this.lastSent, next)) return;
    this.lastSent = { limit: next.limit, spread: next.spread };
    this.send({ t: 'limit', limit: next.limit, spread: next.spread });
  }

  /** Tells it to stop accepting from the shared socket; resolves when it says it has, or after `timeoutMs`. */
  unlisten(timeoutMs: number): Promise<void> {
    if (this.state === 'exited' || !this.worker.isConnected()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.off('unlistened', done).off('exit', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.once('unlistened', done).once('exit', done);
      this.send({ t: 'unlisten' });
    });
  }

  /**
   * Stop sending it work; it finishes in-flight requests and exits. Killed if still alive after
   * the deadline. `idle`: what it does with its idle keep-alive connections (see the message).
   */
  drain(deadlineMs: number, killAfterMs: number, reason: string, idle: IdleOnDrain = 'return'): void {
    if (this.current === 'exited' || this.current === 'draining') return;
    this.current = 'draining';
    this.reason = reason;
    this.send({ t: 'drain', deadlineMs, reason, idle });
    this.killTimer = setTimeout(() => this.kill('SIGKILL'), deadlineMs + killAfterMs);
    this.killTimer.unref();
  }

  /** SIGTERM now, SIGKILL after `graceMs` if it is still there (a hung loop ignores SIGTERM). */
  terminate(graceMs: number, reason: string): void {
    if (this.current === 'exited') return;
    this.current = 'draining';
    this.reason = reason;
    this.kill('SIGTERM');
    clearTimeout(this.killTimer);
    this.killTimer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    this.killTimer.unref();
  }

  kill(signal: NodeJS.Signals): void {
    if (this.state !== 'exited') this.worker.process.kill(signal);
  }

  /** A message, with a handle that travels as a copy (the listening socket: the supervisor keeps its own). */
  send<M extends Exclude<SupervisorMessage, { t: 'conn' }>>(msg: M, ...handle: HandleArg<M, SupervisorHandles>): void {
    if (this.worker.isConnected()) this.worker.send(msg, handle[0] as unknown as Socket, {}, () => {});
  }

  /** The child's metrics registry as prom-client JSON, or undefined after `timeoutMs`. */
  scrape(id: number, timeoutMs: number): Promise<unknown[] | undefined> {
    return new Promise((resolve) => {
      const onMetrics = (got: number, metrics: unknown[]) => {
        if (got !== id) return;
        clearTimeout(timer);
        this.off('metrics', onMetrics);
        resolve(metrics);
      };
      const timer = setTimeout(() => {
        this.off('metrics', onMetrics);
        resolve(undefined);
      }, timeoutMs);
      this.on('metrics', onMetrics);
      this.send({ t: 'metrics', id });
    });
  }

  private onMessage(raw: unknown, handle?: unknown): void {
    const msg = asChildMessage(raw);
    if (!msg) {
      // prom-client's own messages share the channel and carry no `t`; one of ours that fails
      // its check would otherwise vanish and, for a load report, look like a hung child.
      if (typeof (raw as { t?: unknown } | null)?.t === 'string') this.emit('invalid', raw);
      return;
    }
    this.lastMessageAt = Date.now();
    switch (msg.t) {
      case 'ready':
        if (this.current === 'starting') {
          this.current = 'ready';
          this.readyTime = Date.now();
          this.emit('ready');
        }
        return;
      case 'load': {
        const { t: _t, ...report } = msg;
        this.lastReport = report;
        this.emit('report');
        return;
      }
      case 'boot-failed':
        this.bootFailure = msg.message;
        return;
      case 'metrics':
        this.emit('metrics', msg.id, msg.metrics);
        return;
      case 'want-listen':
        this.emit('want-listen');
        return;
      case 'back':
      case 'idle':
        if (handle) this.emit(msg.t, handle as ChildHandles['back']);
        return;
      case 'unlistened':
        this.emit('unlistened');
        return;
      case 'lent':
        this.emit('lent', handle as ChildHandles['lent']);
        return;
    }
  }
}
