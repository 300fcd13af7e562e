// check-config and start's preflight run a routes plugin's function once, on a bare fastify
// in a probe process, so that one which throws while it registers (or registers one route
// twice) stops drover before any child is forked, naming the plugin's file and line.
import Fastify from 'fastify';
import { pathToFileURL } from 'node:url';
import type { Drover, DroverPlugin } from './plugin-types.ts';

const notHere = async (): Promise<never> => {
  throw new Error('drover.tasks is not available while the plugin is checked');
};

/** A `drover` without a store: a plugin uses its tasks in handlers, which the probe never runs. */
const probeDrover: Drover = {
  child: 0,
  error: (_status, _code, message) => new Error(message),
  rateLimit: notHere,
  tasks: { submit: notHere, get: notHere, wait: notHere },
};

export async function registerProbe(plugin: DroverPlugin, file: string): Promise<void> {
  const app = Fastify({ logger: false });
  try {
    await app.register(plugin, probeDrover);
    await app.ready();
  } catch (err) {
    throw new Error(`${whereIn(err as Error, file)}: ${(err as Error).name}: ${(err as Error).message}`);
  } finally {
    await app.close().catch(() => {});
  }
}

/** `file:line` of the innermost stack frame in the plugin's own file (where it threw), else the file alone. */
export function whereIn(err: Error, file: string): string {
  const url = pathToFileURL(file).href;
  for (const line of (err.stack ?? '').split('\n')) {
    const at = line.indexOf(url) >= 0 ? line.slice(line.indexOf(url) + url.length) : line.indexOf(file) >= 0 ? line.slice(line.indexOf(file) + file.length) : undefined;
    const m = at === undefined ? null : /^:(\d+):\d+/.exec(at);
    if (m) return `${file}:${m[1]}`;
  }
  return file;
}
