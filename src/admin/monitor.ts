// Watches the supervisor once a second and keeps what the status page and `drover top` chart:
// a 15-minute ring of samples, the desired-count changes with their reasons, the last traffic
// window (from a scrape of the children's metrics every few seconds) and the queue. It only
// reads: the supervisor's state, the children's reports and registries, the store's counters.
import { AggregatorRegistry } from 'prom-client';
import { explainSizing, type Sizing } from '../config/sizing.ts';
import { ANONYMOUS_TENANT } from '../http/api/auth.ts';
import { DURATION_BUCKETS } from '../http/metrics.ts';
import type { Logger } from '../log.ts';
import type { Store, StoreStats, TenantBacklog } from '../store/index.ts';
import { snapshot } from '../supervisor/status.ts';
import type { Supervisor } from '../supervisor/supervisor.ts';
import type { RegisteredNode } from '../fleet/registry.ts';
import { History } from './history.ts';
import { minus, quantile } from './quantile.ts';
import { limitedInWindow, pruneScrapes, tenantRows, type LimitedScrape } from './tenants.ts';
import type { DeadLetter, DecisionMark, Sample, Tasks, Traffic, View } from './view.ts';

const SAMPLE_MS = 1000;
export const HISTORY_S = 15 * 60;
/** Scraping every child's registry costs each child a serialisation: every few seconds is enough for a quantile. */
const SCRAPE_EVERY = 5;
const SCRAPE_TIMEOUT_MS = 2000;
// Scrape ids of their own, so an answer to a Prometheus scrape is never taken for ours.
const SCRAPE_ID_BASE = 1_000_000_000;
const DEAD_LETTERS = 5;
/** Rows of the tenant table: this many busiest by backlog, and up to this many more only rate limited. */
const TENANT_ROWS = 10;
const LIMITED_WINDOW_MS = 60_000;

interface Scrape {
  at: number;
  /** Cumulative responses by status class, summed over children and routes. */
  byClass: Map<string, number>;
  /** Cumulative observations per duration bucket (not cumulative across buckets), +Inf last. */
  buckets: number[];
}

export class Monitor {
  readonly samples = new History<Sample>(HISTORY_S);
  readonly decisions = new History<DecisionMark>(200);
  private traffic: Traffic = { windowS: 0, reqPerS: 0, byClass: {}, waiting: 0, refusedTotal: 0, timedOutTotal: 0 };
  private stats?: StoreStats;
  private deadLetters: DeadLetter[] = [];
  private backlog: TenantBacklog[] = [];
  /** Cumulative refusals by tenant at each scrape, back to the base of the last minute. */
  private limited: LimitedScrape[] = [];
  private deadSeen = -1;
  private timer?: NodeJS.Timeout;
  private ticks = 0;
  private busy = false;
  private scrapeId = SCRAPE_ID_BASE;
  private lastScrape?: Scrape;
  /** Requests each child had finished at the last sample, by child id. */
  private requests = new Map<number, number>();
  private refused = 0;
  private lastDecisionAt = '';
  private lastDesired: number;
  private warned = false;
  private readonly sup: Supervisor;
  private readonly store: Store;
  private readonly sizing: Sizing;
  private readonly log: Logger;
  /** The fleet as of the heartbeat's last read of the registry (set once the heartbeat runs). */
  fleetNodes?: () => RegisteredNode[];

  constructor(sup: Supervisor, store: Store, sizing: Sizing, log: Logger) {
    this.sup = sup;
    this.store = store;
    this.sizing = sizing;
    this.log = log;
    this.lastDesired = sup.desired;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), SAMPLE_MS);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Everything the page shows; `since` leaves out the samples a viewer already has. */
  view(since = 0): View {
    const status = snapshot(this.sup);
    const now = Date.now();
    const recent = this.samples.since(now - 60_000);
    // Undefined when the store does not count them (the page shows "-", not a false 0).
    const sum = (k: 'succeeded' | 'failed') => {
      const known = recent.filter((s) => s[k] !== undefined);
      return known.length === 0 ? undefined : known.reduce((n, s) => n + s[k]!, 0);
    };
    const st = this.stats;
    const tasks: Tasks = {
      available: st !== undefined,
      queued: st?.queued ?? 0,
      retrying: st?.delayed ?? 0,
      byPriority: Object.fromEntries(Object.entries(st?.depthByPriority ?? {})),
      oldestWaitS: (st?.oldestWaitMs ?? 0) / 1000,
      running: st?.running ?? 0,
      dead: st?.dead ?? 0,
      succeededPerMin: sum('succeeded'),
      failedPerMin: sum('failed'),
      deadLetters: this.deadLetters,
      tenants: tenantRows(st ? this.backlog : [], limitedInWindow(this.limited, LIMITED_WINDOW_MS), TENANT_ROWS),
    };
    const s = this.sizing;
    const fleet = this.fleetNodes?.() ?? [];
    return {
      at: now,
      status,
      traffic: { ...this.traffic, waiting: status.balancer.waiting, refusedTotal: status.balancer.refused, timedOutTotal: status.balancer.timedOut },
      tasks,
      executor: {
        threadsPerChild: s.threads,
        tasksPerThread: s.tasksPerThread,
        slotsPerChild: s.slotsPerChild,
        slotsInUse: status.totals.runningTasks,
        slotsTotal: status.totals.taskSlots,
        limitedBy: s.limitedBy,
        explanation: explainSizing(s),
      },
      decisions: this.decisions.since(now - HISTORY_S * 1000),
      samples: this.samples.since(since),
      historyS: HISTORY_S,
      fleet: fleet.length > 1 ? fleet : null,
    };
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const n = this.ticks++;
      await this.sample();
      if (n % SCRAPE_EVERY === 0) await this.scrape();
      if (this.stats && this.stats.dead !== this.deadSeen) await this.readDeadLetters(this.stats.dead);
    } catch (err) {
      // The page shows what it has; one warning, not one a second.
      if (!this.warned) this.log.warn({ err }, 'status monitor could not sample; the page shows the last values');
      this.warned = true;
    } finally {
      this.busy = false;
    }
  }

  private async sample(): Promise<void> {
    const sup = this.sup;
    const now = Date.now();
    const before = this.stats;
    try {
      [this.stats, this.backlog] = await Promise.all([this.store.stats(), this.store.backlogByTenant(TENANT_ROWS)]);
    } catch {
      this.stats = undefined;
      this.backlog = [];
    }
    let reqs = 0;
    let httpP95S: number | undefined;
    const seen = new Map<number, number>();
    const s: Sample = { at: now, desired: sup.desired, actual: 0, connections: 0, inflight: 0, runningTasks: 0, taskSlots: 0, waiting: sup.balancer.waiting, reqPerS: 0, refused: 0 };
    for (const c of sup.children.values()) {
      if (c.state === 'ready') s.actual++;
      const r = c.report;
      if (!r) continue;
      s.connections += r.connections;
      s.inflight += r.inflight;
      s.runningTasks += r.runningTasks;
      s.taskSlots += r.taskSlots;
      seen.set(c.id, r.requests);
      reqs += Math.max(0, r.requests - (this.requests.get(c.id) ?? r.requests));
      if (r.httpP95 !== undefined) httpP95S = Math.max(httpP95S ?? 0, r.httpP95);
    }
    this.requests = seen;
    const last = this.samples.last();
    const elapsedS = last ? Math.max(0.001, (now - last.at) / 1000) : 1;
    s.reqPerS = reqs / elapsedS;
    if (httpP95S !== undefined) s.httpP95S = httpP95S;
    const refused = sup.balancer.stats.refused + sup.balancer.stats.timedOut;
    s.refused = Math.max(0, refused - this.refused);
    this.refused = refused;
    if (this.stats) {
      s.queued = this.stats.queued;
      // Finished tasks are removed after store.result_ttl: a count that drops is not negative work.
      // Absent before and present now: the count left 0 (the SQLite backend leaves it out at 0).
      if (before && this.stats.succeeded !== undefined) s.succeeded = Math.max(0, this.stats.succeeded - (before.succeeded ?? 0));
      if (before) s.failed = Math.max(0, this.stats.dead - before.dead);
    }
    this.samples.push(s);
    this.traffic.reqPerS = s.reqPerS;
    this.markDecisions(now);
  }

  /** Copies new autoscaler decisions; a change of the desired count without one was manual. */
  private markDecisions(now: number): void {
    const sup = this.sup;
    let explained = false;
    for (const d of sup.autoscaler?.decisions ?? []) {
      if (d.at <= this.lastDecisionAt) continue;
      this.lastDecisionAt = d.at;
      this.decisions.push({ at: Date.parse(d.at), from: d.current, to: d.desired, metric: d.metric, reason: d.reason });
      explained = true;
    }
    if (sup.desired !== this.lastDesired && !explained) {
      this.decisions.push({ at: now, from: this.lastDesired, to: sup.desired, metric: 'manual', reason: sup.pinned ? 'pinned by drover scale (or SIGTTIN/SIGTTOU)' : 'set outside the autoscaler' });
    }
    this.lastDesired = sup.desired;
  }

  /** Reads every child's registry (as /metrics does) for status classes and the duration histogram. */
  private async scrape(): Promise<void> {
    const id = ++this.scrapeId;
    const children = [...this.sup.children.values()].filter((c) => c.state !== 'exited' && c.worker.isConnected());
    const got = (await Promise.all(children.map((c) => c.scrape(id, SCRAPE_TIMEOUT_MS)))).filter((a) => a !== undefined);
    const metrics = await AggregatorRegistry.aggregate(got).getMetricsAsJSON();
    const byClass = new Map<string, number>();
    const cumulative = new Map<string, number>();
    const limited = new Map<string, number>();
    for (const m of metrics) {
      if (m.name === 'drover_http_requests_total') {
        for (const v of m.values) {
          const cls = String(v.labels.status_class);
          byClass.set(cls, (byClass.get(cls) ?? 0) + v.value);
        }
      } else if (m.name === 'drover_rate_limited_total') {
        for (const v of m.values) {
          const tenant = String(v.labels.tenant);
          limited.set(tenant, (limited.get(tenant) ?? 0) + v.value);
        }
      } else if (m.name === 'drover_http_request_duration_seconds') {
        for (const v of m.values) {
          const le = (v.labels as Record<string, unknown>).le;
          if (le === undefined) continue;
          cumulative.set(String(le), (cumulative.get(String(le)) ?? 0) + v.value);
        }
      }
    }
    const cum = [...DURATION_BUCKETS.map(String), '+Inf'].map((le) => cumulative.get(le) ?? 0);
    const buckets = cum.map((x, i) => Math.max(0, x - (i === 0 ? 0 : cum[i - 1]!)));
    const now: Scrape = { at: Date.now(), byClass, buckets };
    this.limited.push({ at: now.at, byTenant: limited });
    this.limited = pruneScrapes(this.limited, LIMITED_WINDOW_MS);
    const prev = this.lastScrape;
    this.lastScrape = now;
    if (!prev) return;
    const window = minus(now.buckets, prev.buckets);
    const classes: Record<string, number> = {};
    for (const [cls, n] of byClass) classes[cls] = Math.max(0, n - (prev.byClass.get(cls) ?? 0));
    this.traffic = {
      ...this.traffic,
      windowS: (now.at - prev.at) / 1000,
      p50S: quantile(DURATION_BUCKETS, window, 0.5),
      p95S: quantile(DURATION_BUCKETS, window, 0.95),
      byClass: classes,
    };
  }

  /** The last few dead-lettered tasks with their errors, read again only when the count changed. */
  private async readDeadLetters(dead: number): Promise<void> {
    this.deadSeen = dead;
    const auth = this.sup.config.auth;
    const tenants = auth.keys.length > 0 ? [...new Set(auth.keys.map((k) => k.tenant))] : [ANONYMOUS_TENANT];
    const lists = await Promise.all(tenants.map((t) => this.store.list(t, { status: 'dead', limit: DEAD_LETTERS })));
    this.deadLetters = lists.flat()
      .sort((a, b) => (b.finishedAt ?? b.updatedAt) - (a.finishedAt ?? a.updatedAt))
      .slice(0, DEAD_LETTERS)
      .map((t) => ({ id: t.id, tenant: t.tenant, at: t.finishedAt ?? t.updatedAt, attempts: t.attempt, error: t.error ? `${t.error.code}: ${t.error.message}` : '(no error recorded)' }));
  }
}
