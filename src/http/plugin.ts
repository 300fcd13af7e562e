// Loads the user's routes module ([http] plugin) and checks its shape, so a broken module
// fails a child's boot (and `start`'s preflight, and check-config) with its file named,
// instead of failing its requests later.
import { pathToFileURL } from 'node:url';
import type { DroverPlugin } from './plugin-types.ts';

export async function loadPlugin(file: string): Promise<DroverPlugin> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new Error(`cannot load http.plugin ${file}: ${(err as Error).message}`, { cause: err });
  }
  // A CommonJS module's module.exports is its default export.
  if (typeof mod.default === 'function') return mod.default as DroverPlugin;
  throw new Error(`http.plugin ${file} must export a fastify plugin, async (app, drover) => { … }, as its default export`);
}
