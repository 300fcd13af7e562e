// The autoscaler's public surface: the decision, its inputs and outputs, and victim choice.
export { decide, type DecideResult } from './decide.ts';
export { pickVictim } from './victim.ts';
export { resolvePolicy, AutoscaleError, type Policy } from './policy.ts';
export {
  emptyHistory,
  type Decision,
  type DecisionMetric,
  type Direction,
  type History,
  type Recommendation,
  type ScaleEvent,
  type SignalMetric,
  type Signals,
  type Victim,
  type VictimCandidate,
} from './types.ts';
export { AutoscaleLoop, type AutoscaleHost, type DecisionRecord } from './loop.ts';
