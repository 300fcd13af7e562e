// How a reload replaces the children: one at a time, each old child drained only once its
// replacement is ready, so the node never serves with fewer ready children than before. A
// replacement that exits or is not ready in time is terminated and the old child keeps serving;
// the reload stops there (the remaining old children keep serving too). A memory replacement
// (health.ts) is the same step for one child.
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { ChildHandle } from './child.ts';
import type { ReloadResult, ReloadStep } from './types.ts';

export type Replaced = { ok: true; pid?: number } | { ok: false; error: string };

/** Resolves once `child` is ready, or with why not: it exited first, or `timeoutS` passed. */
export function waitReady(child: ChildHandle, timeoutS: number): Promise<{ ok: true } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done({ ok: false, error: `child ${child.id} not ready after ${timeoutS}s` }), timeoutS * 1000);
    const onReady = () => done({ ok: true });
    const onExit = (code: number | null, signal: string | null) =>
      done({ ok: false, error: `child ${child.id} exited (${signal ?? `code ${code}`}) before ready: ${child.bootError ?? child.stderr.slice(-3).join(' | ')}` });
    const done = (r: { ok: true } | { ok: false; error: string }) => {
      clearTimeout(timer);
      child.off('ready', onReady).off('exit', onExit);
      resolve(r);
    };
    child.once('ready', onReady).once('exit', onExit);
  });
}

/** Forks a replacement for `old` with `fork`, waits until it is ready, then drains `old`. */
export async function replaceChild(
  old: ChildHandle,
  reason: 'reload' | 'memory',
  fork: (slot: number) => ChildHandle,
  sup: Config['supervisor'],
  log: Logger,
): Promise<Replaced> {
  const fresh = fork(old.slot);
  const r = await waitReady(fresh, sup.ready_timeout);
  if (!r.ok) {
    fresh.terminate(sup.kill_timeout * 1000, 'replacement failed');
    return r;
  }
  fresh.tookOver();
  log.info({ child: old.id, childPid: old.pid, by: fresh.id, reason }, 'draining replaced child');
  old.drain(sup.shutdown_timeout * 1000, sup.kill_timeout * 1000, reason);
  return { ok: true, pid: fresh.pid };
}

/**
 * Replaces `olds` in turn with `replace`, reporting each step done; stops at the first that
 * fails. Children that exited or drain meanwhile are skipped (they need no replacement).
 */
export async function replaceInTurn(
  olds: readonly ChildHandle[],
  replace: (old: ChildHandle) => Promise<Replaced>,
  log: Logger,
  onStep: (step: ReloadStep) => void,
): Promise<ReloadResult> {
  let replaced = 0;
  for (const old of olds) {
    if (old.state === 'exited' || old.state === 'draining') continue;
    const r = await replace(old);
    if (!r.ok) {
      log.error({ replaced, total: olds.length, error: r.error }, 'reload failed; the remaining old children keep serving');
      return { ok: false, replaced, total: olds.length, error: r.error };
    }
    replaced++;
    const step = { step: replaced, total: olds.length, oldPid: old.pid, newPid: r.pid };
    log.info(step, 'reload step done');
    onStep(step);
  }
  log.info({ replaced }, 'reload done');
  return { ok: true, replaced, total: olds.length };
}
