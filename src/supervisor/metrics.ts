import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { LoadReport } from '../ipc/messages.ts';
import type { RegisteredNode } from '../fleet/registry.ts';
import pkg from '../../package.json' with { type: 'json' };
import type { Supervisor } from './supervisor.ts';

const SCRAPE_TIMEOUT_MS = 2000;

/**
 * /metrics for the whole node: the supervisor's own registry (its state read at scrape time)
 * merged with every child's registry, fetched over IPC. A child that does not answer within
 * SCRAPE_TIMEOUT_MS is left out and counted, rather than failing the whole scrape as
 * prom-client's clusterMetrics() would.
 */
export class SupervisorMetrics {
  readonly registry = new Registry();
  private scrapeId = 0;
  private readonly scrapeFailures: Counter;
  /**
   * The fleet as of the heartbeat's last read of the registry (set once the heartbeat runs):
   * a scrape reuses that listing rather than asking Redis again.
   */
  fleetNodes?: () => RegisteredNode[];

  constructor(sup: Supervisor) {
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'drover_supervisor_' });
    new Gauge({ name: 'drover_build_info', help: 'drover version and Node version', labelNames: ['version', 'node'], registers: r,
      collect() { this.set({ version: pkg.version, node: process.version }, 1); } });
    new Gauge({ name: 'drover_children', help: 'children by state', labelNames: ['state'], registers: r,
      collect() {
        const counts: Record<string, number> = { starting: 0, ready: 0, draining: 0 };
        for (const c of sup.children.values()) if (c.state in counts) counts[c.state]!++;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      } });
    new Gauge({ name: 'drover_desired_children', help: 'children the supervisor aims for', registers: r,
      collect() { this.set(sup.desired); } });
    new Counter({ name: 'drover_child_restarts_total', help: 'children restarted, by reason', labelNames: ['reason'], registers: r,
      collect() { this.reset(); for (const [reason, n] of sup.counters.restarts) this.inc({ reason }, n); } });
    new Counter({ name: 'drover_reloads_total', help: 'rolling reloads, by result', labelNames: ['result'], registers: r,
      collect() { this.reset(); const { ok, failed } = sup.counters.reloads; this.inc({ result: 'ok' }, ok); this.inc({ result: 'failed' }, failed); } });
    new Counter({ name: 'drover_scale_events_total', help: 'changes of the desired child count, by direction', labelNames: ['direction'], registers: r,
      collect() { this.reset(); const { up, down } = sup.counters.scaleEvents; this.inc({ direction: 'up' }, up); this.inc({ direction: 'down' }, down); } });
    new Counter({ name: 'drover_connections_handed_total', help: 'connections handed to each child', labelNames: ['child'], registers: r,
      collect() { this.reset(); for (const [child, n] of sup.balancer.stats.handed) if (sup.children.has(child)) this.inc({ child: String(child) }, n); } });
    new Gauge({ name: 'drover_balancer_waiting_connections', help: 'connections waiting in the supervisor for a child with room', registers: r,
      collect() { this.set(sup.balancer.waiting); } });
    new Gauge({ name: 'drover_balancer_idle_connections', help: 'connections waiting in the supervisor for their next request to begin: keep-alive ones children gave back, and new ones while every child is full', registers: r,
      collect() { this.set(sup.idle.size); } });
    new Counter({ name: 'drover_balancer_rebound_requests_total', help: 'requests that arrived on a connection waiting in the supervisor and were handed to a child', registers: r,
      collect() { this.reset(); this.inc(sup.idle.rebound); } });
    new Counter({ name: 'drover_balancer_refused_total', help: 'connections answered 503 by the supervisor, by reason (queue full, node draining, stopping, or timed out in the queue)', labelNames: ['reason'], registers: r,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(sup.balancer.stats.refusedBy)) this.inc({ reason }, n);
        this.inc({ reason: 'queue_timeout' }, sup.balancer.stats.timedOut);
      } });
    const perChild = (name: string, help: string, read: (rep: LoadReport) => number) =>
      new Gauge({ name, help, labelNames: ['child'], registers: r,
        collect() {
          this.reset();
          for (const c of sup.children.values()) {
            const rep = c.report;
            if (rep) this.set({ child: String(c.id) }, read(rep));
          }
        } });
    perChild('drover_child_open_connections', 'open connections per child, as last reported', (x) => x.connections);
    perChild('drover_child_inflight_requests', 'HTTP requests in flight per child, as last reported', (x) => x.inflight);
    perChild('drover_child_running_tasks', 'agent tasks running per child', (x) => x.runningTasks);
    perChild('drover_child_task_slots', 'agent task slots per child', (x) => x.taskSlots);
    perChild('drover_child_rss_bytes', 'resident memory per child', (x) => x.rss);
    perChild('drover_child_event_loop_lag_seconds', 'event-loop delay p99 per child over the last heartbeat', (x) => x.eventLoopLag);
    new Gauge({ name: 'drover_autoscaler_desired_children', help: 'children the autoscaler last asked for (absent when it is off)', registers: r,
      collect() { this.reset(); if (sup.autoscaler?.desired !== undefined) this.set(sup.autoscaler.desired); } });
    new Counter({ name: 'drover_autoscaler_decisions_total', help: 'autoscaler decisions that changed the child count, by direction and the metric that drove them', labelNames: ['direction', 'reason'], registers: r,
      collect() {
        this.reset();
        for (const { direction, metric, n } of sup.counters.autoscaleCounts()) this.inc({ direction, reason: metric }, n);
      } });
    // Summed over the heartbeat's last listing (0 before its first beat). A node alone
    // (SQLite) is a fleet of one, so these equal its own figures.
    const fleetNodes = () => this.fleetNodes?.() ?? [];
    const fleetSum = (name: string, help: string, read: (n: RegisteredNode) => number) =>
      new Gauge({ name, help, registers: r,
        collect() { this.set(fleetNodes().reduce((sum, n) => sum + read(n), 0)); } });
    fleetSum('drover_fleet_nodes', 'live nodes in the fleet registry, this one included', () => 1);
    fleetSum('drover_fleet_children', 'ready children across the fleet', (n) => n.children);
    fleetSum('drover_fleet_task_slots', 'agent task slots across the fleet', (n) => n.slots);
    fleetSum('drover_fleet_running_tasks', 'agent tasks running across the fleet', (n) => n.running);
    this.scrapeFailures = new Counter({ name: 'drover_metrics_scrape_failures_total', help: 'children that did not answer a metrics scrape in time', registers: r });
  }

  async render(sup: Supervisor): Promise<{ contentType: string; body: string }> {
    const id = ++this.scrapeId;
    const children = [...sup.children.values()].filter((c) => c.state !== 'exited' && c.worker.isConnected());
    const answers = await Promise.all(children.map((c) => c.scrape(id, SCRAPE_TIMEOUT_MS)));
    const got = answers.filter((a): a is unknown[] => a !== undefined);
    this.scrapeFailures.inc(answers.length - got.length);
    const merged = AggregatorRegistry.aggregate(got);
    const body = (await this.registry.metrics()) + (await merged.metrics());
    return { contentType: this.registry.contentType, body };
  }
}
