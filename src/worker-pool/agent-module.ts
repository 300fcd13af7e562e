import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';

export type RunFn = (input: unknown, ctx: unknown) => Promise<unknown>;

/**
 * Loads a user's agent module and checks its shape, so a broken agent fails a child's boot
 * (and with it a rolling reload) instead of failing every task later. The default export is
 * either the run function or an object with a run method.
 */
export async function loadAgentModule(file: string, cwd = process.cwd()): Promise<RunFn> {
  const abs = isAbsolute(file) ? file : resolve(cwd, file);
  let mod: { default?: unknown; run?: unknown };
  try {
    mod = await import(pathToFileURL(abs).href);
  } catch (err) {
    throw new Error(`cannot load agent module ${abs}: ${(err as Error).message}`, { cause: err });
  }
  const exported = mod.default ?? mod;
  if (typeof exported === 'function') return exported as RunFn;
  const run = (exported as { run?: unknown })?.run;
  if (typeof run === 'function') return run.bind(exported) as RunFn;
  throw new Error(`agent module ${abs} must export a run(input, ctx) function as its default export`);
}
