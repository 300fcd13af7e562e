import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Agent requests are long: buckets reach five minutes (prom-client's defaults stop at 10 s).
export const DURATION_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 180, 300];

/**
 * The child's own registry. The supervisor scrapes it over IPC and merges every child's into
 * one /metrics page. Series that must stay per child carry a `child` label; the duration
 * histogram does not, so buckets add up across children.
 */
export class ChildMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'child' | 'route' | 'status_class'>;
  private readonly duration: Histogram<'route' | 'status_class'>;
  private readonly child: string;
  // Labelled children are looked up by hashing their labels on every call; the hot path keeps
  // one pair per (route, status class) instead.
  private readonly bound = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();

  constructor(childId: number) {
    this.child = String(childId);
    collectDefaultMetrics({ register: this.registry, labels: { child: this.child } });
    this.requests = new Counter({
      name: 'drover_http_requests_total',
      help: 'HTTP requests answered, by child, route and status class',
      labelNames: ['child', 'route', 'status_class'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'drover_http_request_duration_seconds',
      help: 'HTTP request duration by route and status class',
      labelNames: ['route', 'status_class'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
  }

  observeRequest(route: string, status: number, seconds: number): void {
    const status_class = `${Math.floor(status / 100)}xx`;
    const key = `${route} ${status_class}`;
    let b = this.bound.get(key);
    if (!b) {
      b = { count: this.requests.labels({ child: this.child, route, status_class }), time: this.duration.labels({ route, status_class }) };
      this.bound.set(key, b);
    }
    b.count.inc();
    b.time.observe(seconds);
  }
}
