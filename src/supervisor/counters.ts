// What the supervisor has done since it started, counted for `drover status`, /metrics and
// the status page. Only the supervisor counts; every other module reads.

export type RestartReason = 'crash' | 'boot_failure' | 'hang' | 'memory' | 'ready_timeout';

export class SupervisorCounters {
  private readonly byReason = new Map<RestartReason, number>();
  private readonly bySlot = new Map<number, { count: number; last: RestartReason }>();
  private readonly reloadResults = { ok: 0, failed: 0 };
  private readonly scales = { up: 0, down: 0 };
  private readonly autoscaleDecisions = new Map<string, number>();

  /** A child restarted for `reason`; `slot` when it had one (its count shows beside the slot). */
  restarted(reason: RestartReason, slot?: number): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (slot !== undefined) this.bySlot.set(slot, { count: (this.bySlot.get(slot)?.count ?? 0) + 1, last: reason });
  }

  reloaded(ok: boolean): void {
    this.reloadResults[ok ? 'ok' : 'failed']++;
  }

  scaled(direction: 'up' | 'down'): void {
    this.scales[direction]++;
  }

  /** An autoscaler decision that changed the count. */
  autoscaled(direction: string, metric: string): void {
    const key = `${direction}|${metric}`;
    this.autoscaleDecisions.set(key, (this.autoscaleDecisions.get(key) ?? 0) + 1);
  }

  /** Restarts by reason. */
  get restarts(): ReadonlyMap<RestartReason, number> {
    return this.byReason;
  }

  slotRestarts(slot: number): number {
    return this.bySlot.get(slot)?.count ?? 0;
  }

  /** Why the slot's child was last restarted. */
  slotLastRestart(slot: number): RestartReason | undefined {
    return this.bySlot.get(slot)?.last;
  }

  get reloads(): { readonly ok: number; readonly failed: number } {
    return { ...this.reloadResults };
  }

  get scaleEvents(): { readonly up: number; readonly down: number } {
    return { ...this.scales };
  }

  /** Autoscaler decisions that changed the count, by direction and metric. */
  *autoscaleCounts(): Iterable<{ direction: string; metric: string; n: number }> {
    for (const [key, n] of this.autoscaleDecisions) {
      const [direction, metric] = key.split('|');
      yield { direction: direction!, metric: metric!, n };
    }
  }
}
