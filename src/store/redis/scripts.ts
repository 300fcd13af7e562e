// The atomic operations: one Lua file each in scripts/, sharing lib.lua (keys, clock, status
// transitions). On Redis 7+ they are one Redis Function library (FUNCTION LOAD, called with
// FCALL): lib.lua's top level then runs once per load instead of once per call, which was
// most of an operation's server time as an EVAL script. The library's name carries a hash of
// its text, so nodes of two drover versions sharing one Redis each call their own; a Redis
// that lost it (restart without persistence, FUNCTION FLUSH) gets it again on the first
// "Function not found". Older servers run the same code as EVALSHA scripts (ioredis sends the
// source once on NOSCRIPT).
import { createHash } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { RedisClient } from './connect.ts';
import { luaSources } from './lua-sources.ts';

export const SCRIPT_NAMES = [
  'enqueue', 'claim', 'renew', 'complete', 'complete_claim', 'fail', 'release', 'held_by', 'cancel', 'reap', 'publish', 'events_read',
  'stats', 'backlog', 'cleanup', 'session_append', 'session_get', 'session_delete', 'rate_limit_take',
  'tool_claim', 'tool_put',
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** Runs an operation: one key (the queue's base, or a bucket's / tool hash's own key), then
 * the common arguments (clock, events max, events TTL) and the op's own. */
export type RunScript = (name: ScriptName, key: string, args: (string | number)[]) => Promise<unknown>;

function sources(): { lib: string; ops: [ScriptName, string][] } {
  const all = luaSources();
  const lib = all.lib;
  if (lib === undefined) throw new Error('store/redis: scripts/lib.lua is missing');
  return {
    lib,
    ops: SCRIPT_NAMES.map((name) => {
      const body = all[name];
      if (body === undefined) throw new Error(`store/redis: scripts/${name}.lua is missing`);
      return [name, body];
    }),
  };
}

/** The Function library: lib.lua, each op as a function of OPS, and one registered function
 * per op that sets the call's state (begin) and runs it. `prefix` names the functions. */
export function functionLibrary(): { code: string; prefix: string } {
  const { lib, ops } = sources();
  const body = [lib, 'local OPS = {}', ...ops.map(([name, src]) => `OPS['${name}'] = function()\n${src}\nend`)].join('\n');
  const prefix = `drover_${createHash('sha1').update(body).digest('hex').slice(0, 12)}`;
  // One line per op: Redis 7.0 loads a library without `pairs` in its globals.
  const register = ops.map(([name]) =>
    `redis.register_function('${prefix}_${name}', function(keys, argv) begin(keys, argv) return OPS['${name}']() end)`).join('\n');
  return { code: `#!lua name=${prefix}\n${body}\n${register}\n`, prefix };
}

/** The same op as one EVAL script, for servers without Functions (before Redis 7). */
export function evalScript(name: ScriptName): string {
  const { lib, ops } = sources();
  const src = ops.find(([n]) => n === name)?.[1] ?? '';
  // lib.lua declares locals named KEYS and ARGV: keep the script's globals before it does.
  return `local EVAL_KEYS, EVAL_ARGV = KEYS, ARGV\n${lib}\nlocal function op()\n${src}\nend\nbegin(EVAL_KEYS, EVAL_ARGV)\nreturn op()\n`;
}

const isMissingFunction = (err: unknown) => err instanceof Error && /function not found/i.test(err.message);
const isUnknownCommand = (err: unknown) => err instanceof Error && /unknown command/i.test(err.message);

/** Loads the library (or defines the EVAL scripts on an older server) and returns the runner.
 * Call once connected. */
export async function scriptRunner(redis: RedisClient): Promise<RunScript> {
  const library = functionLibrary();
  // A Cluster's masters each need the library (FCALL runs where its key's slot lives); replicas
  // get it from their master.
  const load = () => redis instanceof Cluster
    ? Promise.all(redis.nodes('master').map((node) => node.call('FUNCTION', 'LOAD', 'REPLACE', library.code)))
    : redis.call('FUNCTION', 'LOAD', 'REPLACE', library.code);
  try {
    await load();
  } catch (err) {
    if (!isUnknownCommand(err)) throw err;
    return evalRunner(redis);
  }
  let reloading: Promise<unknown> | null = null;
  return async (name, key, args) => {
    const fcall = () => redis.call('FCALL', `${library.prefix}_${name}`, 1, key, ...args);
    try {
      return await fcall();
    } catch (err) {
      if (!isMissingFunction(err)) throw err;
      // One reload shared by every call that missed it at the same moment.
      reloading ??= load().finally(() => {
        reloading = null;
      });
      await reloading;
      return fcall();
    }
  };
}

function evalRunner(redis: RedisClient): RunScript {
  for (const name of SCRIPT_NAMES) redis.defineCommand(`drover_${name}`, { numberOfKeys: 1, lua: evalScript(name) });
  const commands = redis as unknown as Record<string, (key: string, ...args: (string | number)[]) => Promise<unknown>>;
  return (name, key, args) => {
    const command = commands[`drover_${name}`];
    if (!command) throw new Error(`store/redis: script ${name} is not defined`);
    return command.call(redis, key, ...args);
  };
}
