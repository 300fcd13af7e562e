import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const LATENCY_SAMPLES = 2048;

interface SocketUse {
  active: number;
  served: number;
}

/**
 * Counts what makes a child busy: open connections, requests in flight, requests served, and
 * request durations since the last report. Attached to the raw http.Server so nothing in the
 * framework can hide a request from it. `onChange(urgent)` fires on every change; urgent when
 * the load drops from at or above `target`, so the supervisor can hand a waiting connection
 * over at once.
 */
export class LoadTracker {
  connections = 0;
  inflight = 0;
  requests = 0;
  received = 0;
  private durations: number[] = [];
  private readonly sockets = new Map<Socket, SocketUse>();
  private readonly loopDelay: ReturnType<typeof monitorEventLoopDelay>;

  private readonly target: number;
  private readonly onChange: (urgent: boolean) => void;

  constructor(target: number, onChange: (urgent: boolean) => void) {
    this.target = target;
    this.onChange = onChange;
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
  }

  get load(): number {
    return this.connections + this.inflight;
  }

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.connections++;
      this.sockets.set(socket, { active: 0, served: 0 });
      this.onChange(false);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.release(() => this.connections--);
      });
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.inflight++;
      const use = this.sockets.get(req.socket);
      if (use) use.active++;
      this.onChange(false);
      const start = process.hrtime.bigint();
      res.once('close', () => {
        if (use) {
          use.active--;
          use.served++;
        }
        this.requests++;
        this.sample(Number(process.hrtime.bigint() - start) / 1e9);
        this.release(() => this.inflight--);
      });
    });
  }

  /**
   * Closes keep-alive connections that sit between requests. A connection that has not yet
   * sent its first request is left alone: it was handed over to be served, and it will be
   * answered with `Connection: close`. (Node's closeIdleConnections() would close it too.)
   */
  closeIdleKeepAlive(): void {
    for (const [socket, use] of this.sockets) if (use.active === 0 && use.served > 0) socket.destroy();
  }

  /** Latency p95 and event-loop lag since the last call, then starts a new interval. */
  takeInterval(): { httpP95?: number; eventLoopLag: number } {
    const d = this.durations.sort((a, b) => a - b);
    const httpP95 = d.length ? d[Math.min(d.length - 1, Math.floor(d.length * 0.95))] : undefined;
    const eventLoopLag = this.loopDelay.count ? this.loopDelay.percentile(99) / 1e9 : 0;
    this.durations = [];
    this.loopDelay.reset();
    return { httpP95, eventLoopLag };
  }

  private sample(seconds: number): void {
    if (this.durations.length < LATENCY_SAMPLES) this.durations.push(seconds);
    else this.durations[Math.floor(Math.random() * LATENCY_SAMPLES)] = seconds;
  }

  private release(decrement: () => void): void {
    const wasFull = this.load >= this.target;
    decrement();
    this.onChange(wasFull);
  }
}
