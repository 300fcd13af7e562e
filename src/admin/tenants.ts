// The Tasks panel's tenant table: the busiest tenants' backlog (from the store) beside how
// often each was refused 429 RATE_LIMITED in the last minute (from the children's
// drover_rate_limited_total, scraped every few seconds). Pure, so the arithmetic is tested alone.
import type { TenantBacklog } from '../store/index.ts';

/** One scrape's cumulative refusals by tenant, summed over the children. */
export interface LimitedScrape {
  at: number;
  byTenant: Map<string, number>;
}

export interface TenantRow {
  tenant: string;
  queued: number;
  running: number;
  /** Requests refused 429 RATE_LIMITED over the last minute. */
  limitedPerMin: number;
}

/**
 * Refusals per tenant over `windowMs` before the newest scrape: its counts minus those of the
 * newest scrape at least that old (or the oldest kept, while the monitor is younger). A child
 * that restarted takes its counts with it: a count that drops is clamped to 0, not negative.
 */
export function limitedInWindow(scrapes: readonly LimitedScrape[], windowMs: number): Map<string, number> {
  const out = new Map<string, number>();
  const last = scrapes.at(-1);
  if (!last) return out;
  let base = scrapes[0]!;
  for (const s of scrapes) if (s.at <= last.at - windowMs) base = s;
  for (const [tenant, n] of last.byTenant) {
    const d = n - (base === last ? n : base.byTenant.get(tenant) ?? 0);
    if (d > 0) out.set(tenant, d);
  }
  return out;
}

/** The scrapes still needed for the next window: the newest one old enough to be its base, and the later ones. */
export function pruneScrapes(scrapes: LimitedScrape[], windowMs: number): LimitedScrape[] {
  const last = scrapes.at(-1);
  if (!last) return scrapes;
  let from = 0;
  for (let i = 0; i < scrapes.length; i++) if (scrapes[i]!.at <= last.at - windowMs) from = i;
  return scrapes.slice(from);
}

/**
 * The backlog rows in the store's order (most queued first), each with its refusals, then at
 * most `max` tenants refused but with nothing queued or running, most refused first (a tenant
 * being refused is worth a row even when others have more queued).
 */
export function tenantRows(backlog: readonly TenantBacklog[], limited: ReadonlyMap<string, number>, max: number): TenantRow[] {
  const rows = backlog.map((b) => ({ tenant: b.tenant, queued: b.queued, running: b.running, limitedPerMin: limited.get(b.tenant) ?? 0 }));
  const listed = new Set(rows.map((r) => r.tenant));
  const onlyLimited = [...limited].filter(([t]) => !listed.has(t)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [tenant, n] of onlyLimited.slice(0, max)) rows.push({ tenant, queued: 0, running: 0, limitedPerMin: n });
  return rows;
}
