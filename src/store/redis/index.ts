// The fleet backend: one Redis (or Sentinel-managed Redis) that every node opens. Every
// operation that reads then writes is one Lua script (scripts/), so it is atomic on the
// server; times inside them are Redis' TIME, one clock for the whole fleet. Keys: the
// queue (tasks, indexes, events, sessions) under `{prefix}:` in one hash slot, since a
// claim must see the whole queue at once; rate buckets and tool results under
// `prefix:rl:{key}` and `prefix:tool:{taskId}`, spread over the slots.
import type { RedisOptions } from 'ioredis';
import { StoreError } from '../errors.ts';
import { gcraBatch } from '../gcra.ts';
import { newTaskId } from '../ids.ts';
import type {
  CleanupResult, HeldTask, RateLimitTaken, Session, Store, StoreOptions, StoreStats, Task, TaskEvent, TenantBacklog, ToolClaim,
} from '../types.ts';
import { validateBacklogLimit, validateClaim, validateEnqueue, validateLease, validateList, validateMessages } from '../validate.ts';
import type { Logger } from '../../log.ts';
import { RedisCancelWatch } from './cancels.ts';
import { parseEvent, RedisEventHub } from './events.ts';
import { connectRedis, createRedis, describeRedis, duplicateRedis, type RedisClient, type RedisTopology } from './connect.ts';
import { durabilityWarnings, inspectRedis } from './inspect.ts';
import { scriptRunner, type RunScript, type ScriptName } from './scripts.ts';
import { fromClaim, fromHmget, TASK_FIELDS, toFields, toJson, toTask } from './task.ts';

export interface RedisStoreOptions extends StoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// for TLS (unused with sentinels or a cluster). */
  url: string;
  /** Sentinels or a Cluster instead of one Redis at `url`. */
  topology?: RedisTopology;
  /** Key prefix, so several deployments can share one Redis. */
  prefix?: string;
  /** Overrides the password in the url (read from an environment variable by the config). */
  password?: string;
  /** The sentinels' own password (read from an environment variable by the config). */
  sentinelPassword?: string;
  /** Progress events kept per task (the oldest go first). */
  eventsMax?: number;
  /** Extra ioredis options (tests: retry strategy, timeouts). */
  redis?: RedisOptions;
  /** Where to report Redis' eviction policy and persistence mode once connected. */
  log?: Logger;
}

const DEFAULT_PREFIX = 'drover';
const DEFAULT_EVENTS_MAX = 10_000;
const DEFAULT_EVENTS_LIMIT = 1000;
const CLEANUP_BATCH = 500;
/** Leased tasks read per call of heldBy (ZSCAN's COUNT, a hint): a few ms of Redis each. */
const HELD_BY_SLICE = 500;

export async function openRedisStore(options: RedisStoreOptions): Promise<Store> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const base = `{${prefix}}:`;
  const connOptions: RedisOptions = {
    lazyConnect: true,
    // Fail fast while Redis is unreachable (a submit must learn at once that it was not
    // accepted: UNAVAILABLE); ioredis keeps reconnecting with backoff meanwhile.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Off: with it, slots that were answered in one reply all send their next call in one
    // batch, and node and Redis take turns waiting on each other (bench:queue at 8 slots ran
    // at 0.67x BullMQ with both processes half idle; bench/RESULTS.md, "Queue").
    enableAutoPipelining: false,
    ...(options.password !== undefined && { password: options.password }),
    ...(options.sentinelPassword !== undefined && { sentinelPassword: options.sentinelPassword }),
    ...options.redis,
  };
  const redis = createRedis(options.url, options.topology ?? {}, connOptions);
  const where = describeRedis(options.url, options.topology);
  // Errors reach callers through their commands; without a listener ioredis logs each one.
  // The last one is kept to say why the store is unreachable (fault()).
  let lastError = '';
  redis.on('error', (err: Error) => {
    lastError = err.message;
  });
  let run: RunScript;
  try {
    await connectRedis(redis);
    run = await scriptRunner(redis);
  } catch (err) {
    redis.disconnect();
    throw new StoreError('UNAVAILABLE', `cannot reach ${where}: ${(err as Error).message}`, { cause: err });
  }
  const cancels = new RedisCancelWatch(
    duplicateRedis(redis, { enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false }),
    `${base}cancels`,
  );
  try {
    await cancels.start();
  } catch (err) {
    cancels.close();
    redis.disconnect();
    throw new StoreError('UNAVAILABLE', `cannot subscribe to cancel notices (${where}): ${(err as Error).message}`, { cause: err });
  }
  if (options.log) {
    const log = options.log;
    await inspectRedis(redis).then(
      (d) => {
        for (const [level, msg] of durabilityWarnings(d)) log[level]({ store: 'redis', where, ...d }, msg);
      },
      (err: unknown) => log.warn({ err }, 'redis: cannot read INFO to check eviction and persistence'),
    );
  }
  const clock = options.clock;
  const common = (): string[] => [clock ? String(clock()) : '', String(options.eventsMax ?? DEFAULT_EVENTS_MAX)];
  let closed = false;
  // What fault() reports: set whenever the command connection drops, cleared once it is
  // ready again (ioredis reconnects by itself meanwhile).
  // The log says it once each way (/readyz's 503 points there).
  let down: string | null = null;
  redis.on('close', () => {
    if (closed || down !== null) return;
    down = 'connection lost';
    options.log?.warn({ store: 'redis', where }, 'redis: connection lost; reconnecting (the store is unavailable meanwhile)');
  });
  redis.on('ready', () => {
    if (down !== null) options.log?.info({ store: 'redis', where }, 'redis: connected again');
    down = null;
    lastError = '';
  });

  /** Every call: refused once closed, and a Redis that cannot be reached is UNAVAILABLE. */
  async function call<T>(fn: () => Promise<T>): Promise<T> {
    if (closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreError) throw err;
      if (closed) throw new StoreError('STORE_CLOSED', 'the store is closed', { cause: err });
      const e = err as Error & { name?: string };
      if (e.name === 'ReplyError') throw err;
      throw new StoreError('UNAVAILABLE', `redis: ${e.message}`, { cause: err });
    }
  }
  const script = (name: ScriptName, args: (string | number)[], key = base) => run(name, key, [...common(), ...args]);
  const eventsKey = (taskId: string) => `${base}ev:${taskId}`;
  const toolKey = (taskId: string) => `${prefix}:tool:{${taskId}}`;

  async function readEvents(taskId: string, afterSeq: number, limit: number): Promise<TaskEvent[]> {
    const entries = (await script('events_read', [taskId, afterSeq, limit])) as string[];
    return entries.map(parseEvent);
  }

  // Blocking reads need a connection of their own; one BZPOPMIN at a time per handle, shared
  // by every caller waiting at that moment.
  let blocking: RedisClient | null = null;
  let waiting: Promise<boolean> | null = null;
  function waitForWork(timeoutMs: number): Promise<boolean> {
    if (closed) return Promise.reject(new StoreError('STORE_CLOSED', 'the store is closed'));
    if (waiting) return waiting;
    if (!blocking) {
      blocking = duplicateRedis(redis, { enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false, enableAutoPipelining: false });
      blocking.on('error', () => undefined);
    }
    const seconds = Math.max(0.01, timeoutMs / 1000).toFixed(3);
    waiting = blocking.bzpopmin(`${base}wake`, seconds).then(
      (got) => got !== null,
      () => false,
    ).finally(() => {
      waiting = null;
    });
    return waiting;
  }

  const hub = new RedisEventHub({
    // Subscriptions wait for the connection instead (SUBSCRIBE is queued until it is up).
    connect: () => duplicateRedis(redis, { enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false }),
    channel: eventsKey,
    read: (taskId, afterSeq) => readEvents(taskId, afterSeq, options.eventsMax ?? DEFAULT_EVENTS_MAX),
  });


  function session(tenant: string, id: string, reply: unknown): Session {
    const [createdAt, updatedAt, expiresAt, messages] = reply as [string, string, string, string[]];
    return {
      tenant, id, messages: messages.map((m) => JSON.parse(m) as unknown),
      createdAt: Number(createdAt), updatedAt: Number(updatedAt), expiresAt: Number(expiresAt),
    };
  }

  const store: Store = {
    enqueue: (req) => call(async () => {
      const { priority, kind } = validateEnqueue(req);
      const id = newTaskId(clock ? clock() : Date.now());
      const input = toJson(req.input);
      const reply = (await script('enqueue', [
        id, req.tenant, kind, req.sessionId ?? '', priority, input,
        req.maxAttempts, req.timeoutMs, req.idempotencyKey ?? '', options.queueLimit, req.requestHash ?? '',
      ])) as [number, unknown];
      if (reply[0] === -2) {
        throw new StoreError('IDEMPOTENCY_MISMATCH', `idempotency key ${JSON.stringify(req.idempotencyKey)} was first used for another request (task ${String(reply[1])})`);
      }
      if (reply[0] === -1) {
        throw new StoreError('QUEUE_FULL', `queue full: ${String(reply[1])} tasks queued (store.queue_limit = ${options.queueLimit})`);
      }
      if (reply[0] === 1) {
        const at = Number(reply[1]);
        return {
          task: {
            id, tenant: req.tenant, kind, sessionId: req.sessionId ?? null, status: 'queued', priority, input: JSON.parse(input),
            result: null, error: null, attempt: 0, attempts: [], maxAttempts: req.maxAttempts, timeoutMs: req.timeoutMs,
            idempotencyKey: req.idempotencyKey ?? null, worker: null, leaseUntil: null, createdAt: at, updatedAt: at, runAt: at,
            startedAt: null, finishedAt: null,
          },
          created: true,
        };
      }
      return { task: toTask(toFields(reply[1])), created: false };
    }),
    claim: (req) => call(async () => {
      validateClaim(req);
      if (req.n === 0) return [];
      const reply = (await script('claim', [req.n, req.worker, req.leaseMs])) as unknown[];
      return reply.map((values) => fromClaim(values as (string | null)[], req.worker, req.leaseMs));
    }),
    renew: (taskId, fence, leaseMs) => call(async () => {
      validateLease(leaseMs);
      return (await script('renew', [taskId, fence, leaseMs])) as 'renewed' | 'cancelling' | 'lost';
    }),
    complete: (taskId, fence, result) => call(async () => (await script('complete', [taskId, fence, toJson(result)])) === 1),
    completeAndClaim: (taskId, fence, result, next) => call(async () => {
      validateClaim(next);
      const [completed, claimed] = (await script('complete_claim', [taskId, fence, toJson(result), next.n, next.worker, next.leaseMs])) as
        [number, unknown[]];
      return { completed: completed === 1, claimed: claimed.map((values) => fromClaim(values as (string | null)[], next.worker, next.leaseMs)) };
    }),
    fail: (taskId, fence, error, opts) => call(async () => {
      const clean = toJson({ code: String(error.code), message: String(error.message) });
      return (await script('fail', [taskId, fence, clean, opts.retryable ? '1' : '0', opts.retryDelayMs])) as
        'retrying' | 'dead' | 'cancelled' | 'stale';
    }),
    release: (taskId, fence) => call(async () => (await script('release', [taskId, fence])) === 1),
    heldBy: (worker) => call(async () => {
      // By slices: one call over 10,000 running tasks held Redis for 30-40 ms.
      const held = new Map<string, HeldTask>();
      let cursor = '0';
      do {
        const [next, ...flat] = (await script('held_by', [worker, cursor, HELD_BY_SLICE])) as string[];
        for (let i = 0; i < flat.length; i += 2) held.set(flat[i]!, { id: flat[i]!, fence: Number(flat[i + 1]) });
        cursor = next!;
      } while (cursor !== '0');
      return [...held.values()];
    }),
    cancel: (tenant, id) => call(async () => {
      const reply = await script('cancel', [tenant, id]);
      return reply === null ? null : toTask(toFields(reply));
    }),
    onCancel: (listener) => cancels.watch(listener),
    // A caller's `now` is honoured like the test clock's (Redis' TIME otherwise).
    reapExpired: (now) => call(async () => {
      const args = [...common()];
      if (now !== undefined) args[0] = String(now);
      return Number(await run('reap', base, args));
    }),
    get: (tenant, id) => call(async () => {
      const fields = fromHmget(await redis.hmget(`${base}t:${id}`, ...TASK_FIELDS));
      return fields.size > 0 && fields.get('tenant') === tenant ? toTask(fields) : null;
    }),
    list: (tenant, opts) => call(async () => {
      validateList(opts);
      const status = opts.status;
      // Which index holds the tasks asked for (see lib.lua's active_key): all of the tenant's,
      // its unfinished ones, or its dead or cancelled ones; rows of another status are skipped.
      const index = status === undefined || status === 'succeeded' ? `${base}ta:${tenant}`
        : status === 'dead' || status === 'cancelled' ? `${base}ts:${status}:${tenant}` : `${base}tact:${tenant}`;
      const tasks: Task[] = [];
      const page = Math.max(opts.limit, 100);
      let before = opts.before;
      while (tasks.length < opts.limit) {
        const ids = await redis.zrevrangebylex(index, before !== undefined ? `(${before}` : '+', '-', 'LIMIT', 0, page);
        const pipeline = redis.pipeline();
        for (const id of ids) pipeline.hmget(`${base}t:${id}`, ...TASK_FIELDS);
        for (const [err, row] of (await pipeline.exec()) ?? []) {
          if (err) throw err;
          const fields = fromHmget(row as (string | null)[]);
          if (fields.size === 0 || (status !== undefined && fields.get('status') !== status)) continue;
          tasks.push(toTask(fields));
          if (tasks.length === opts.limit) break;
        }
        if (ids.length < page) break;
        before = ids[ids.length - 1];
      }
      return tasks;
    }),
    publish: (taskId, fence, event) => call(async () => {
      const seq = await script('publish', [taskId, fence, toJson(event)]);
      return seq === null ? null : Number(seq);
    }),
    events: (taskId, afterSeq, limit) => call(() => readEvents(taskId, afterSeq, limit ?? DEFAULT_EVENTS_LIMIT)),
    subscribe: (taskId, afterSeq, onEvent, onEnd) => hub.subscribe(taskId, afterSeq, onEvent, onEnd),
    sessionGet: (tenant, id) => call(async () => {
      const reply = await script('session_get', [tenant, id]);
      return reply === null ? null : session(tenant, id, reply);
    }),
    sessionAppend: (tenant, id, messages, writer) => call(async () => {
      validateMessages(messages);
      const reply = await script('session_append', [
        tenant, id, options.sessionTtlMs, writer?.taskId ?? '', writer?.fence ?? 0, ...messages.map(toJson),
      ]);
      if (reply === 'STALE_FENCE') {
        throw new StoreError('STALE_FENCE', `turn ${writer?.taskId} (fence ${writer?.fence}) no longer holds session ${id}`);
      }
      return session(tenant, id, reply);
    }),
    sessionDelete: (tenant, id) => call(async () => (await script('session_delete', [tenant, id])) === 1),
    rateLimitTake: (key, limit, now, count = 1) => call(async () => {
      gcraBatch(null, limit, 0, count); // validates the limit and count the same way as every backend
      const args = [...common(), limit.ratePerSec, limit.burst, count];
      if (now !== undefined) args[0] = String(now);
      const [allowed, remaining, retryAfterMs, resetMs, taken] = (await run('rate_limit_take', `${prefix}:rl:{${key}}`, args)) as number[];
      return { allowed: allowed === 1, remaining, retryAfterMs, resetMs, taken } as RateLimitTaken;
    }),
    toolClaim: (taskId, key, owner, leaseMs) => call(async () => {
      validateLease(leaseMs);
      const reply = (await script('tool_claim', [key, owner, leaseMs], toolKey(taskId))) as [string, string | number];
      if (reply[0] === 'done') return { state: 'done', result: JSON.parse(reply[1] as string) } as ToolClaim;
      if (reply[0] === 'pending') return { state: 'pending', leaseRemainingMs: Number(reply[1]) };
      return { state: 'claimed' };
    }),
    toolPut: (taskId, key, owner, result) => call(async () => (await script('tool_put', [key, owner, toJson(result)], toolKey(taskId))) === 1),
    toolGet: (taskId, key) => call(async () => {
      const value = await redis.hget(toolKey(taskId), `r:${key}`);
      return value === null ? null : { result: JSON.parse(value) };
    }),
    waitForWork,
    stats: () => call(async () => {
      const [depth, delayed, oldest, now, queued, running, dead] = (await script('stats', [])) as
        [number[], number, string | null, string, number, number, number];
      const result: StoreStats = { depthByPriority: {}, queued, delayed, oldestWaitMs: 0, running, dead };
      for (let i = 0; i + 1 < depth.length; i += 2) result.depthByPriority[depth[i] as number] = depth[i + 1] as number;
      if (oldest !== null && Number(oldest) <= Number(now)) result.oldestWaitMs = Number(now) - Number(oldest);
      return result;
    }),
    backlogByTenant: (limit) => call(async () => {
      validateBacklogLimit(limit);
      const flat = (await script('backlog', [])) as (string | number)[];
      const rows: TenantBacklog[] = [];
      for (let i = 0; i < flat.length; i += 3) rows.push({ tenant: String(flat[i]), queued: Number(flat[i + 1]), running: Number(flat[i + 2]) });
      // Same order as the SQLite backend's ORDER BY queued DESC, running DESC, tenant.
      rows.sort((a, b) => b.queued - a.queued || b.running - a.running || (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0));
      return rows.slice(0, limit);
    }),
    cleanup: (now) => call(async () => {
      const result: CleanupResult = { tasks: 0, sessions: 0 };
      for (;;) {
        const args = [...common(), options.resultTtlMs, CLEANUP_BATCH];
        if (now !== undefined) args[0] = String(now);
        const [sessions, ...ids] = (await run('cleanup', base, args)) as [number, ...string[]];
        result.sessions += sessions;
        result.tasks += ids.length;
        // One DEL per task: their tool results live in slots of their own (a Cluster refuses a
        // DEL across slots); sent together, each answered in the same round trip.
        await Promise.all(ids.map((id) => redis.del(toolKey(id))));
        if (ids.length < CLEANUP_BATCH && sessions < CLEANUP_BATCH) break;
      }
      return result;
    }),
    fault: () => (down === null ? null : `${where} unreachable: ${lastError || down}`),
    close: async () => {
      if (closed) return;
      closed = true;
      hub.close();
      cancels.close();
      blocking?.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
  return store;
}

export { redactUrl } from './connect.ts';
