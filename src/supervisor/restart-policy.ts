// When a child that exited unplanned is started again: crash backoff per slot, the
// boot-failure breaker, and one rule above both — a node with no child starts one soon.
// A pure function of (state, event, now); the supervisor applies the actions it returns.
import { restartDelay } from './backoff.ts';

export interface RestartConfig {
  /** supervisor.restart_delay: first delay, doubled per failure in a row of the same slot. */
  readonly initialS: number;
  readonly maxS: number;
  /** A child up this long before it crashed starts its slot's count again. */
  readonly healthyAfterS: number;
  /** Boot failures in a row (node-wide) at which drover gives up, or retries slowly while others serve. */
  readonly maxBootFailures: number;
}

interface SlotBackoff {
  /** Failures in a row of this slot (crashes and boot failures). */
  readonly failures: number;
  /** Epoch ms before which the slot is not started again. */
  readonly notBefore: number;
}

export interface RestartState {
  readonly slots: ReadonlyMap<number, SlotBackoff>;
  /** Children in a row, on any slot, that exited before they were ready. */
  readonly bootFailures: number;
  /** Since when no child has been ready or starting (set by a `due` event). */
  readonly emptySince?: number;
}

export type RestartEvent =
  /** A child that had been ready exited unplanned after `upS` seconds. */
  | { readonly type: 'crashed'; readonly slot: number; readonly upS: number }
  /** A child exited before it was ready; `ready` children still serve. */
  | { readonly type: 'boot-failed'; readonly slot: number; readonly ready: number }
  /** A child became ready: the code boots. */
  | { readonly type: 'ready' }
  /** Slots without a child (`missing`, in the order to fill them), and children ready or starting. */
  | { readonly type: 'due'; readonly missing: readonly number[]; readonly live: number };

export type RestartAction =
  | { readonly type: 'backoff'; readonly slot: number; readonly delayS: number; readonly failures: number }
  | { readonly type: 'retry-slowly'; readonly slot: number; readonly delayS: number; readonly bootFailures: number }
  | { readonly type: 'give-up'; readonly bootFailures: number }
  | { readonly type: 'spawn'; readonly slot: number }
  | { readonly type: 'wake'; readonly inMs: number };

export const INITIAL_RESTART_STATE: RestartState = { slots: new Map(), bootFailures: 0 };

export function decideRestart(state: RestartState, event: RestartEvent, now: number, cfg: RestartConfig): { state: RestartState; actions: RestartAction[] } {
  switch (event.type) {
    case 'ready':
      return { state: { ...state, bootFailures: 0 }, actions: [] };
    case 'crashed': {
      const before = state.slots.get(event.slot)?.failures ?? 0;
      const failures = (event.upS >= cfg.healthyAfterS ? 0 : before) + 1;
      const delayS = restartDelay(failures, cfg.initialS, cfg.maxS);
      return {
        state: { ...state, bootFailures: 0, slots: withSlot(state.slots, event.slot, { failures, notBefore: now + delayS * 1000 }) },
        actions: [{ type: 'backoff', slot: event.slot, delayS, failures }],
      };
    }
    case 'boot-failed': {
      const bootFailures = state.bootFailures + 1;
      const failures = (state.slots.get(event.slot)?.failures ?? 0) + 1;
      if (bootFailures >= cfg.maxBootFailures) {
        // Nothing serves and nothing boots: a broken deploy, not bad luck.
        if (event.ready === 0) return { state: { ...state, bootFailures }, actions: [{ type: 'give-up', bootFailures }] };
        return {
          state: { ...state, bootFailures, slots: withSlot(state.slots, event.slot, { failures, notBefore: now + cfg.maxS * 1000 }) },
          actions: [{ type: 'retry-slowly', slot: event.slot, delayS: cfg.maxS, bootFailures }],
        };
      }
      const delayS = restartDelay(failures, cfg.initialS, cfg.maxS);
      return {
        state: { ...state, bootFailures, slots: withSlot(state.slots, event.slot, { failures, notBefore: now + delayS * 1000 }) },
        actions: [{ type: 'backoff', slot: event.slot, delayS, failures }],
      };
    }
    case 'due': {
      const emptySince = event.live > 0 ? undefined : (state.emptySince ?? now);
      const next = { ...state, emptySince };
      if (event.missing.length === 0) return { state: next, actions: [] };
      const startAt = new Map(event.missing.map((slot) => [slot, state.slots.get(slot)?.notBefore ?? 0]));
      // A node with no child at all waits at most the first delay for one, whatever the
      // slots' backoff says: a crash loop costs a fork per restart_delay, an empty node
      // costs every request.
      if (emptySince !== undefined) {
        const soonest = event.missing.reduce((a, b) => (startAt.get(b)! < startAt.get(a)! ? b : a));
        startAt.set(soonest, Math.min(startAt.get(soonest)!, emptySince + cfg.initialS * 1000));
      }
      const actions: RestartAction[] = [];
      let wake = Infinity;
      for (const slot of event.missing) {
        const at = startAt.get(slot)!;
        if (at <= now) actions.push({ type: 'spawn', slot });
        else wake = Math.min(wake, at - now);
      }
      if (wake !== Infinity) actions.push({ type: 'wake', inMs: wake });
      // A child is starting now: the node is no longer empty, and an empty node later waits afresh.
      return { state: actions.some((a) => a.type === 'spawn') ? { ...next, emptySince: undefined } : next, actions };
    }
  }
}

function withSlot(slots: ReadonlyMap<number, SlotBackoff>, slot: number, value: SlotBackoff): Map<number, SlotBackoff> {
  return new Map(slots).set(slot, value);
}
