import { Counter, Registry, collectDefaultMetrics, type Metric, type MetricValue } from 'prom-client';

// Agent requests are long: buckets reach five minutes (prom-client's defaults stop at 10 s).
export const DURATION_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 180, 300];
const DURATION_NAME = 'drover_http_request_duration_seconds';

/** What one (route, status class) has seen: plain numbers, turned into series at scrape time. */
class RouteStats {
  count = 0;
  sum = 0;
  /** Observations per bucket, not cumulative (the last slot holds those above every bound). */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
}

/**
 * The child's own registry. The supervisor scrapes it over IPC and merges every child's into
 * one /metrics page. Series that must stay per child carry a `child` label; the duration
 * histogram does not, so buckets add up across children.
 *
 * Requests are counted in plain arrays and become prom-client series only when scraped: a
 * labelled prom-client histogram hashes its labels and walks its buckets on every observe,
 * which cost about 2 µs of a 20 µs request on the ping route (bench/RESULTS.md).
 */
export class ChildMetrics {
  readonly registry = new Registry();
  /** route → stats indexed by status class (1..5). */
  private readonly routes = new Map<string, (RouteStats | undefined)[]>();
  /** tenant → requests refused 429 RATE_LIMITED. */
  private readonly limited = new Map<string, number>();

  /**
   * `connections` reads how this child took its connections from the shared socket (see
   * DirectAccept); `deferred`, how many requests waited for quicker ones (see QuickFirst).
   */
  constructor(childId: number, connections: () => { accepted: number; forwarded: number; moved: number }, deferred: () => number) {
    const child = String(childId);
    collectDefaultMetrics({ register: this.registry, labels: { child } });
    const routes = this.routes;
    new Counter({
      name: 'drover_http_requests_total',
      help: 'HTTP requests answered, by child, route and status class',
      labelNames: ['child', 'route', 'status_class'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [route, s, status_class] of each(routes)) this.inc({ child, route, status_class }, s.count);
      },
    });
    this.registry.registerMetric(durationHistogram(routes));
    // A label per tenant is bounded: tenants come from the configured API keys (auth.keys),
    // never from what a client sends, and a refusal happens only after the key matched. No
    // child label, so the supervisor's merge sums a tenant's refusals over the children.
    const limited = this.limited;
    new Counter({
      name: 'drover_rate_limited_total',
      help: 'requests refused 429 RATE_LIMITED, by tenant (limits.rate_per_second, limits.burst)',
      labelNames: ['tenant'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [tenant, n] of limited) this.inc({ tenant }, n);
      },
    });
    const childCounter = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, labelNames: ['child'], registers: [this.registry], collect() {
        this.reset();
        this.inc({ child }, read());
      } });
    childCounter('drover_connections_accepted_total', 'connections this child accepted from the shared socket and served itself',
      () => connections().accepted - connections().forwarded);
    childCounter('drover_connections_sent_back_total', 'connections this child accepted and sent back to the supervisor (at its limit, or stopping)',
      () => connections().forwarded);
    childCounter('drover_connections_moved_total', 'keep-alive connections this child closed after an answer while over its limit, so that their clients reconnect to a less loaded child',
      () => connections().moved);
    childCounter('drover_http_requests_deferred_total', 'requests to a route that holds the event loop, started after the quicker requests this child had read',
      deferred);
  }

  rateLimited(tenant: string): void {
    this.limited.set(tenant, (this.limited.get(tenant) ?? 0) + 1);
  }

  observeRequest(route: string, status: number, seconds: number): void {
    let classes = this.routes.get(route);
    if (!classes) this.routes.set(route, (classes = []));
    const s = (classes[Math.floor(status / 100)] ??= new RouteStats());
    s.count++;
    s.sum += seconds;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    s.buckets[i]!++;
  }
}

function* each(routes: Map<string, (RouteStats | undefined)[]>): Generator<[string, RouteStats, string]> {
  for (const [route, classes] of routes) {
    for (let c = 0; c < classes.length; c++) {
      const s = classes[c];
      if (s) yield [route, s, `${c}xx`];
    }
  }
}

/** A histogram as prom-client's registry reads one (get() and the fields the text format uses), built from RouteStats. */
function durationHistogram(routes: Map<string, (RouteStats | undefined)[]>): Metric {
  const metric = {
    name: DURATION_NAME,
    help: 'HTTP request duration by route and status class',
    type: 'histogram',
    aggregator: 'sum',
    get(): Promise<unknown> {
      const values: MetricValue<string>[] = [];
      for (const [route, s, status_class] of each(routes)) {
        let cumulative = 0;
        for (let i = 0; i < DURATION_BUCKETS.length; i++) {
          cumulative += s.buckets[i]!;
          values.push({ labels: { le: DURATION_BUCKETS[i]!, route, status_class }, value: cumulative, metricName: `${DURATION_NAME}_bucket` } as MetricValue<string>);
        }
        values.push({ labels: { le: '+Inf', route, status_class }, value: s.count, metricName: `${DURATION_NAME}_bucket` } as MetricValue<string>);
        values.push({ labels: { route, status_class }, value: s.sum, metricName: `${DURATION_NAME}_sum` } as MetricValue<string>);
        values.push({ labels: { route, status_class }, value: s.count, metricName: `${DURATION_NAME}_count` } as MetricValue<string>);
      }
      return Promise.resolve({ name: DURATION_NAME, help: metric.help, type: 'histogram', aggregator: 'sum', values });
    },
  };
  return metric as unknown as Metric;
}
