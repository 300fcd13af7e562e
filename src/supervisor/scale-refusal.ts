// Whether `drover scale N` may go ahead: beyond autoscale.max_children (what the memory budget
// was sized for) only with --force. Pure: the sizing comes in, the answer goes out.
import { TASK_MEMORY_SHARE, type Sizing } from '../config/sizing.ts';

export type ScaleVerdict =
  | { readonly ok: true; readonly forcedPast?: { readonly maxChildren: number; readonly memoryAllows: number } }
  | { readonly ok: false; readonly error: string };

export function scaleVerdict(n: number, force: boolean, sizing: Pick<Sizing, 'maxChildren' | 'memoryLimitMb' | 'memoryBudgetMb'>): ScaleVerdict {
  if (n <= sizing.maxChildren) return { ok: true };
  const taskMemoryMb = Math.floor(TASK_MEMORY_SHARE * sizing.memoryLimitMb);
  const memoryAllows = Math.max(1, Math.floor(taskMemoryMb / sizing.memoryBudgetMb));
  if (force) return { ok: true, forcedPast: { maxChildren: sizing.maxChildren, memoryAllows } };
  const why = `autoscale.max_children is ${sizing.maxChildren}; the memory for tasks (${taskMemoryMb} MB at ${sizing.memoryBudgetMb} MB per child) allows ${memoryAllows}`;
  return { ok: false, error: `cannot scale to ${n}: ${why}; add --force to go beyond` };
}
