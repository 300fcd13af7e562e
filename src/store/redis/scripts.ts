// The atomic operations: one Lua file each in scripts/, with lib.lua (keys, clock, status
// transitions) put in front. ioredis' defineCommand calls each by SHA (EVALSHA) and sends
// the source once when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
import type { Cluster, Redis } from 'ioredis';
import { luaSources } from './lua-sources.ts';

export const SCRIPT_NAMES = [
  'enqueue', 'claim', 'renew', 'complete', 'complete_claim', 'fail', 'release', 'cancel', 'reap', 'publish', 'events_read',
  'stats', 'backlog', 'cleanup', 'session_append', 'session_get', 'session_delete', 'rate_limit_take',
  'tool_claim', 'tool_put',
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** Runs a script: one key (the queue's base, or a bucket's / tool hash's own key), then
 * the common arguments (clock, events max, events TTL) and the op's own. */
export type RunScript = (name: ScriptName, key: string, args: (string | number)[]) => Promise<unknown>;

export function defineScripts(redis: Redis | Cluster): void {
  const sources = luaSources();
  const lib = sources.lib;
  if (lib === undefined) throw new Error('store/redis: scripts/lib.lua is missing');
  for (const name of SCRIPT_NAMES) {
    const body = sources[name];
    if (body === undefined) throw new Error(`store/redis: scripts/${name}.lua is missing`);
    redis.defineCommand(`drover_${name}`, { numberOfKeys: 1, lua: `${lib}\n${body}` });
  }
}

export function scriptRunner(redis: Redis | Cluster): (name: ScriptName, key: string, args: (string | number)[]) => Promise<unknown> {
  const commands = redis as unknown as Record<string, (key: string, ...args: (string | number)[]) => Promise<unknown>>;
  return (name, key, args) => {
    const command = commands[`drover_${name}`];
    if (!command) throw new Error(`store/redis: script ${name} is not defined`);
    return command.call(redis, key, ...args);
  };
}
