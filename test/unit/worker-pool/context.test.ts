// The ctx an agent gets: what it can do with it, taken apart or not. The store is reached
// through the thread RPC, which here is a recorder that answers as the main thread would.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { LlmClient } from '../../../src/agent/types.ts';
import { createContext } from '../../../src/worker-pool/context.ts';
import type { Job, RpcCall } from '../../../src/worker-pool/protocol.ts';
import type { ThreadRpc } from '../../../src/worker-pool/thread-rpc.ts';

const job: Job = { taskId: 't-1', attempt: 2, fence: 7, tenant: 'acme', owner: 'o-1', input: 'hi', timeoutMs: 1000 };

/** `hold`: ops whose answers wait until release() (as a store thread busy with other batches). */
function setup(session?: Job['session'], hold: RpcCall['op'][] = [], opts: { toolLeaseMs?: number; level?: string } = {}) {
  const calls: RpcCall[] = [];
  const held: (() => void)[] = [];
  const rpc = {
    call: async (c: RpcCall) => {
      calls.push(c);
      if (hold.includes(c.op)) await new Promise<void>((r) => held.push(r));
      if (c.op === 'toolClaim') return { state: 'claimed' };
      return c.op === 'toolPut' ? true : 1;
    },
  } as unknown as ThreadRpc;
  const release = () => held.splice(0).forEach((r) => r());
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: opts.level ?? 'debug' }, new Writable({ write: (chunk, _e, done) => (lines.push(JSON.parse(String(chunk))), done()) }));
  const llm = {} as LlmClient;
  const made = createContext({ job: { ...job, ...(session && { session }) }, signal: new AbortController().signal, llm, rpc, log, toolLeaseMs: opts.toolLeaseMs ?? 30_000 });
  return { ...made, calls, lines, llm, release, log };
}

describe('an attempt\'s ctx', () => {
  it('works with its functions taken off it, as `const { tool, progress, log } = ctx` does', async () => {
    const { ctx, flush, calls, lines } = setup();
    const { taskId, attempt, tenant, tool, progress, log } = ctx;
    expect([taskId, attempt, tenant]).toEqual(['t-1', 2, 'acme']);
    progress({ step: 'one' });
    expect(await tool('k', async () => ({ n: 1 }))).toEqual({ n: 1 });
    log.info({ extra: true }, 'hello');
    await flush();
    expect(calls.map((c) => [c.op, c.args[0]])).toEqual([['publish', 't-1'], ['toolClaim', 't-1'], ['toolPut', 't-1']]);
    expect(calls[0]!.args).toEqual(['t-1', 7, { step: 'one' }]);
    expect(lines).toMatchObject([{ msg: 'hello', extra: true, taskId: 't-1', attempt: 2 }]);
  });

  it('goes on once a tool has run, and stores its result before the outcome (flush)', async () => {
    const { ctx, flush, calls, release } = setup(undefined, ['toolPut']);
    let runs = 0;
    const tool = () => ctx.tool('k', async () => ({ n: ++runs }));
    expect(await tool()).toEqual({ n: 1 });
    // Called again before the result is stored: the same run, not a second claim of a key still pending.
    expect(await tool()).toEqual({ n: 1 });
    expect(calls.map((c) => c.op)).toEqual(['toolClaim', 'toolPut']);
    let flushed = false;
    const flushing = flush().then(() => (flushed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(flushed).toBe(false);
    release();
    await flushing;
    expect(flushed).toBe(true);
    // Stored: a later call claims again, and the store answers (here: claimed, so it runs).
    expect(await tool()).toEqual({ n: 2 });
    expect(calls.map((c) => c.op)).toEqual(['toolClaim', 'toolPut', 'toolClaim', 'toolPut']);
  });

  it('renews a running tool\'s claim every third of its lease, and stops once the tool returns', async () => {
    const { ctx, calls } = setup(undefined, [], { toolLeaseMs: 90 });
    const claims = () => calls.filter((c) => c.op === 'toolClaim').length;
    await ctx.tool('slow', () => new Promise((r) => setTimeout(() => r('done'), 250)));
    // The claim, then a renewal every 30 ms for 250 ms (timers on a busy machine may run late).
    const whenReturned = claims();
    expect(whenReturned).toBeGreaterThanOrEqual(4);
    await new Promise((r) => setTimeout(r, 120));
    expect(claims()).toBe(whenReturned);
  });

  it('logs at the levels that are on, and makes no child logger for a line that is off', () => {
    const { ctx, lines, log } = setup(undefined, [], { level: 'info' });
    let children = 0;
    const child = log.child.bind(log);
    log.child = ((...args: Parameters<typeof log.child>) => (children++, child(...args))) as typeof log.child;
    ctx.log.debug({ n: 1 }, 'not written');
    expect(children).toBe(0);
    ctx.log.info({ n: 2 }, 'written');
    ctx.log.warn('also written');
    expect(children).toBe(1);
    expect(lines).toMatchObject([{ msg: 'written', n: 2, taskId: 't-1', attempt: 2 }, { msg: 'also written', taskId: 't-1' }]);
  });

  it('lists what it carries, with the session only on a turn, and keeps one logger', () => {
    const plain = setup().ctx;
    expect(Object.keys(plain)).toEqual(['taskId', 'attempt', 'tenant', 'signal', 'llm', 'tool', 'progress']);
    expect(plain.session).toBeUndefined();
    expect(plain.log).toBe(plain.log);
    const turn = setup({ id: 's-1', history: [{ role: 'user', content: 'before' }] }).ctx;
    expect(turn.session).toEqual({ id: 's-1', history: [{ role: 'user', content: 'before' }] });
    expect(Object.isFrozen(turn.session!.history)).toBe(true);
    expect(Object.keys(turn)).toContain('session');
  });
});
