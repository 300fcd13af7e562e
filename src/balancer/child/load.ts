// Imported rather than the global, which is an accessor on globalThis: a getter call per use.
import { performance } from 'node:perf_hooks';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ChildResponse, SocketUse } from '../../http/response.ts';

export type { SocketUse } from '../../http/response.ts';

const LATENCY_SAMPLES = 2048;

/**
 * Counts what makes a child busy: open connections, requests in flight, requests served, and
 * request durations since the last report. It sees connections on the raw http.Server and each
 * request before the framework does (requestStarted), so nothing in the framework can hide
 * one. `onChange(urgent)` fires on every change; urgent when `busy` drops from at or above
 * `target`, so the supervisor can hand a waiting connection over at once.
 *
 * Two numbers come out of it. `load` (connections + requests) is what children are compared
 * by: the supervisor spreads connections so that loads stay close. `busy` (requests being
 * answered) is what fills a child up to `target`: an open event stream, a keep-alive
 * connection between requests, or one still sending its headers only waits on the network
 * and costs a socket and a little memory, not a share of the event loop, so thousands of them
 * must not keep a health check or a new submission out (issue 14 item 5).
 */
export class LoadTracker {
  connections = 0;
  inflight = 0;
  /** Requests in flight that wait on I/O, not the CPU: an SSE stream under way, a long poll (`?wait=`). */
  streams = 0;
  requests = 0;
  received = 0;
  /** Cleared while draining: every response then says `Connection: close`, so keep-alive clients move to other children. */
  keepAlive = true;
  /** Asked at each request's start whether its connection should close after the answer, to move it elsewhere (DirectAccept.moveConnection). */
  moveConnection?: (load: number, age: number) => boolean;
  private durations: number[] = [];
  private readonly sockets = new Map<Socket, SocketUse>();

  private readonly target: number;
  private readonly onChange: (urgent: boolean) => void;
  private readonly onFinish?: (res: ChildResponse, seconds: number) => void;
  private readonly onResponseClose = (res: ChildResponse): void => this.finish(res);
  private readonly onStream = (res: ChildResponse): void => this.streamStarted(res);

  /** `onFinish` hears every response that closed (answered or aborted) and how long it took. */
  constructor(target: number, onChange: (urgent: boolean) => void, onFinish?: (res: ChildResponse, seconds: number) => void) {
    this.target = target;
    this.onChange = onChange;
    this.onFinish = onFinish;
  }

  get load(): number {
    return this.connections + this.inflight;
  }

  /** Requests being answered, streams left out: what child_target bounds. */
  get busy(): number {
    return this.inflight - this.streams;
  }

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.connections++;
      this.sockets.set(socket, { socket, openedAt: performance.now(), active: 0, served: 0, idleAt: 0, bytesAtIdle: 0 });
      this.onChange(false);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.drop('connections');
      });
    });
  }

  /**
   * Called for every request before the app's handler (buildApp's onRequest), rather than from
   * a second 'request' listener: the per-request path runs tens of thousands of times a second,
   * and fields on the response replace closures and listeners.
   */
  requestStarted(req: IncomingMessage, res: ChildResponse): void {
    this.inflight++;
    const now = performance.now();
    const use = this.sockets.get(req.socket);
    if (use) use.active++;
    if (!this.keepAlive || (use !== undefined && this.moveConnection?.(this.load, now - use.openedAt))) res.shouldKeepAlive = false;
    res.socketUse = use;
    res.startedAt = now;
    res.onStream = this.onStream;
    res.onClose = this.onResponseClose;
    this.onChange(false);
  }

  /** An answer became a long wait on I/O (a stream, a long poll): its request no longer counts as busy. */
  private streamStarted(res: ChildResponse): void {
    if (res.streaming || res.writableFinished) return;
    res.streaming = true;
    const wasFull = this.busy >= this.target;
    this.streams++;
    this.onChange(wasFull);
  }

  private finish(res: ChildResponse): void {
    if (res.streaming) this.streams--;
    const use = res.socketUse;
    const now = performance.now();
    if (use) {
      use.served++;
      if (--use.active === 0) {
        use.idleAt = now;
        use.bytesAtIdle = use.socket.bytesRead;
      }
    }
    this.requests++;
    const seconds = (now - res.startedAt) / 1000;
    this.sample(seconds);
    this.onFinish?.(res, seconds);
    this.drop('inflight');
  }

  /**
   * Closes keep-alive connections that sit between requests. A connection that has not yet
   * sent its first request is left alone: it was handed over to be served, and it will be
   * answered with `Connection: close`. (Node's closeIdleConnections() would close it too.)
   */
  closeIdleKeepAlive(): void {
    for (const [socket, use] of this.sockets) if (use.active === 0 && use.served > 0) socket.destroy();
  }

  /**
   * Keep-alive connections that have sat between requests since `before` (performance.now()
   * time) and have read nothing since their last answer: no next request has begun on them.
   */
  *idleSince(before: number): Generator<Socket> {
    for (const use of this.sockets.values()) {
      if (use.active === 0 && use.served > 0 && use.idleAt <= before && use.socket.bytesRead === use.bytesAtIdle) yield use.socket;
    }
  }

  /** Request duration p95 (seconds) since the last call, then starts a new interval. */
  takeHttpP95(): number | undefined {
    const d = this.durations.sort((a, b) => a - b);
    this.durations = [];
    return d.length ? d[Math.min(d.length - 1, Math.floor(d.length * 0.95))] : undefined;
  }

  private sample(seconds: number): void {
    if (this.durations.length < LATENCY_SAMPLES) this.durations.push(seconds);
    else this.durations[Math.floor(Math.random() * LATENCY_SAMPLES)] = seconds;
  }

  /** Lowers a count; urgent when that frees a child that was at its target. */
  private drop(count: 'connections' | 'inflight'): void {
    const wasFull = this.busy >= this.target;
    this[count]--;
    this.onChange(wasFull);
  }
}
