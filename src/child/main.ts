import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import type { ClientHandle, ListenHandle } from '../ipc/handles.ts';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../log.ts';
import { asSupervisorMessage, type ChildHandles, type ChildMessage, type HandleArg, type IdleOnDrain, type LoadReport, type SupervisorHandles } from '../ipc/messages.ts';
import { CHILD_CONFIG_ENV, CHILD_ID_ENV } from '../ipc/env.ts';
import { loadAgentModule } from '../worker-pool/agent-module.ts';
import { startExecutor, type Executor } from '../worker-pool/index.ts';
import { executorFiles } from '../worker-pool/files.ts';
import { runtimeDir } from '../config/paths.ts';
import { heapGrowingFlag, inheritedNodeOptions } from '../worker-pool/heap.ts';
import { computeSizing, readMachine } from '../config/sizing.ts';
import { openStore, type Store } from '../store/index.ts';
import { startThreadPool } from '../thread-priority.ts';
import { buildApp, type ChildState } from '../http/app.ts';
import { registerApi } from '../http/api/index.ts';
import { loadPlugin } from '../http/plugin.ts';
import { DirectAccept } from '../balancer/child/direct-accept.ts';
import { IdleReturn } from '../balancer/child/idle-return.ts';
import { LoadTracker } from '../balancer/child/load.ts';
import { ReportPace } from '../balancer/child/report-pace.ts';
import { routeOf } from '../http/route-label.ts';
import { ChildMetrics } from '../http/metrics.ts';

/** How long a draining child waits, at most, for connections it gave back to be written to the channel. */
const HAND_ON_WAIT_MS = 2000;
/** How long a booting child waits for the supervisor's answer about the shared socket. */
const LISTEN_ANSWER_MS = 5000;

/**
 * To the supervisor, if it is still there. A handle travels as a copy; node closes ours once it
 * is written unless `keepOpen`. `done` runs once the message is written or could not be.
 */
function send<M extends ChildMessage>(msg: M, ...handle: HandleArg<M, ChildHandles>): void {
  sendWith(msg, handle[0], {});
}

/** `keepOpen`: the handle travels as a copy (the listening socket); `done` once it is sent. */
function sendWith<M extends ChildMessage>(msg: M, handle: HandleArg<M, ChildHandles>[0] | undefined, opts: { keepOpen?: boolean; done?: () => void }): void {
  if (!process.connected) return opts.done?.();
  process.send!(msg, handle as unknown as Socket, { keepOpen: opts.keepOpen ?? false }, opts.done);
}

/** A child: serves the HTTP API on sockets the supervisor hands over, reports its load, drains on request. */
export async function runChild(): Promise<void> {
  const config = JSON.parse(process.env[CHILD_CONFIG_ENV] ?? '{}') as Config;
  const state: ChildState = { id: Number(process.env[CHILD_ID_ENV] ?? 0), ready: false, draining: false };
  const log = createLogger({ role: 'child', child: state.id }, config.log.level, config.log.format);
  // Before any thread starts and before the heap grows: V8 reads it at each full collection.
  const heapFlag = heapGrowingFlag(config.executor.heap_growing_percent);
  if (heapFlag) setFlagsFromString(heapFlag);
  // The semi-space flag the supervisor added has been read; the processes an agent starts get the operator's NODE_OPTIONS.
  const nodeOptions = inheritedNodeOptions(process.env.NODE_OPTIONS, config.executor.main_semi_space_mb);
  if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = nodeOptions;

  // The supervisor coordinates shutdown and reload: a terminal's Ctrl-C (or a HUP sent to the
  // whole group) reaches every process, and a child must not die before the supervisor has
  // moved its traffic away.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  // A SIGTERM from the supervisor replaces a hung or late child while the node serves on: its
  // idle connections go back (a stopping supervisor closes them). With no supervisor there is
  // no one to give them to.
  process.on('SIGTERM', () => drain(config.supervisor.shutdown_timeout * 1000, 'SIGTERM', 'return'));
  process.on('disconnect', () => drain(config.supervisor.shutdown_timeout * 1000, 'supervisor gone', 'close'));

  const pace = new ReportPace(() => report(), (now) => idleReturn.heldLately(now));
  const onChange = (urgent: boolean) => {
    direct.loadChanged();
    pace.changed(urgent);
  };
  // quickFirst is read at scrape time, once the app is built.
  const metrics = new ChildMetrics(state.id, () => direct, () => quickFirst.deferred);
  const tracker = new LoadTracker(config.balancer.child_target, onChange, (res, seconds) =>
    // A client that left before any answer: nginx's 499 (client closed request).
    metrics.observeRequest(routeOf(res), res.headersSent ? res.statusCode : 499, seconds));
  const { app, server, quickFirst } = buildApp(config, state, log, (req, res) => tracker.requestStarted(req, res));
  tracker.attach(server);
  const direct = new DirectAccept(config.balancer.child_target, {
    backlog: config.server.backlog,
    load: () => tracker.load,
    busy: () => tracker.busy,
    serve: (socket) => server.emit('connection', socket),
    forward: (client) => handOn({ t: 'back' }, client),
    askListen: () => send({ t: 'want-listen' }),
    listenFailed: (errno) => log.warn({ error: getSystemErrorName(errno) }, 'cannot accept from the shared socket; connections come through the supervisor'),
  });
  tracker.moveConnection = (load, age) => direct.moveConnection(load, age);
  const idleReturn = new IdleReturn(
    config.balancer.rebind_idle_after * 1000,
    (before) => tracker.idleSince(before),
    (client) => handOn({ t: 'idle' }, client),
  );
  // Connections on their way to the supervisor. A handle not yet written to the channel when
  // the process exits is closed with it, and the client's next request on it is reset: a
  // draining child waits for these before it exits.
  let handingOn = 0;
  let handedOn: (() => void) | undefined;
  function handOn(msg: { t: 'back' | 'idle' }, client: ClientHandle): void {
    handingOn++;
    // A raw handle is not closed by node after sending (only net.Socket is): close ours once written.
    sendWith(msg, client, { done: () => {
      client.close();
      if (--handingOn === 0) handedOn?.();
    } });
  }
  let listenAnswered: (() => void) | undefined;
  // Before anything can report: the executor reports as soon as it claims its first task.
  let interval = { httpP95: tracker.takeHttpP95(), eventLoopLag: 0 };
  let rss = process.memoryUsage.rss();
  let queueWaitP95 = 0;

  function heartbeat(): void {
    interval = { httpP95: tracker.takeHttpP95(), eventLoopLag: idleReturn.takeLag() };
    rss = process.memoryUsage.rss();
    queueWaitP95 = executor?.takeQueueWaitP95() ?? 0;
    report();
  }

  function report(): void {
    pace.sent();
    const report: LoadReport = {
      received: tracker.received,
      connections: tracker.connections,
      inflight: tracker.inflight,
      streams: tracker.streams,
      runningTasks: executor?.running ?? 0,
      taskSlots: executor?.slots ?? 0,
      requests: tracker.requests,
      listening: direct.listening,
      rss,
      queueWaitP95,
      ...interval,
      draining: state.draining,
    };
    send({ t: 'load', ...report });
    direct.reported(tracker.load);
  }

  let store: Store | undefined;
  let executor: Executor | undefined;
  /** The store and the executor starting; a drain that comes meanwhile waits for them. */
  let booting: Promise<void> = Promise.resolve();
  let draining: Promise<never> | undefined;
  function drain(deadlineMs: number, reason: string, idle: IdleOnDrain): Promise<never> {
    draining ??= (async () => {
      state.ready = false;
      state.draining = true;
      direct.stop();
      idleReturn.stop();
      // From now on every response asks the client to close, so keep-alive connections end
      // after their current request instead of holding the old child open.
      tracker.keepAlive = false;
      log.info({ reason, deadlineMs, idle }, 'draining');
      const deadline = Date.now() + deadlineMs;
      // Still starting: what the boot opens, the drain closes.
      await booting;
      // Running tasks finish (or go back to the queue at the deadline) while requests finish.
      const tasks = executor?.drain(Math.max(0, deadline - Date.now()));
      // Closing a keep-alive connection between requests races the client's next request,
      // which then fails with ECONNRESET: while the node serves on, each idle connection goes
      // back to the supervisor, which gives its next request to another child; a draining
      // node lets them reach the keep-alive timeout (node's server closes them then).
      while (tracker.load > 0 && Date.now() < deadline) {
        if (idle === 'return') idleReturn.giveBack(tracker.idleSince(performance.now()));
        else if (idle === 'close') tracker.closeIdleKeepAlive();
        await new Promise((r) => setTimeout(r, 50));
      }
      await tasks;
      log.info({ left: tracker.load }, tracker.load ? 'drain deadline passed' : 'drained');
      if (handingOn > 0) await new Promise<void>((r) => ((handedOn = r), setTimeout(r, HAND_ON_WAIT_MS)));
      await store?.close();
      process.exit(0);
    })();
    return draining;
  }

  function onSupervisorMessage(raw: unknown, handle?: unknown): void {
    const msg = asSupervisorMessage(raw);
    if (!msg) return;
    switch (msg.t) {
      case 'conn': {
        pace.handedOver();
        const socket = handle as SupervisorHandles['conn'];
        // The socket can close while it travels; then no handle arrives.
        if (!socket) {
          tracker.received++;
          return onChange(false);
        }
        // Counted before the connection event, which reports it; one with a request read is
        // counted later (below).
        if (!msg.head) tracker.received++;
        // net.Server sets TCP_NODELAY on sockets it accepts (http.Server defaults noDelay to true);
        // a socket that arrives over IPC was accepted by the supervisor and must get it here.
        socket.setNoDelay(true);
        server.emit('connection', socket);
        // The start of the next request on a connection that was idle, which the supervisor read
        // to know a request had come: the parser gets it before anything else from the socket.
        if (msg.head) {
          socket.emit('data', Buffer.from(msg.head, 'base64'));
          // Received, as far as the supervisor can tell, once the event loop turns after the
          // request started: a handler that holds the loop delays it, and until then the
          // supervisor sends this child no other request read from an idle connection.
          // A request that waits behind quicker ones (quick-first.ts) has not started yet.
          const taken = () => {
            tracker.received++;
            report();
          };
          quickFirst.afterStarted(taken);
        }
        socket.resume();
        return;
      }
      case 'listen':
        direct.listen(handle as SupervisorHandles['listen'], msg.limit, msg.spread);
        listenAnswered?.();
        return;
      case 'limit':
        direct.setLimit(msg.limit, msg.spread);
        return;
      case 'lend':
        // Copied into the message: this child keeps listening on its own.
        sendWith({ t: 'lent' }, direct.handle, { keepOpen: true });
        return;
      case 'unlisten':
        direct.stop();
        send({ t: 'unlistened' });
        return;
      case 'drain':
        void drain(msg.deadlineMs, msg.reason, msg.idle);
        return;
      case 'metrics':
        void metrics.registry.getMetricsAsJSON().then((m) => send({ t: 'metrics', id: msg.id, metrics: m }));
        return;
    }
  }

  // Listening before the first await: node queues messages only while a process has no
  // 'message' listener, and a cluster worker has one of its own from the start, so a drain
  // that came while the store opened was lost, and the child finished its boot and served on
  // while the supervisor waited for it to exit.
  process.on('message', onSupervisorMessage);
  booting = (async () => {
    try {
      if (config.executor.agent) await loadAgentModule(config.executor.agent);
      const plugin = config.http.plugin ? await loadPlugin(config.http.plugin) : undefined;
      // The single binary's threads start from files it writes out first; the store's is one.
      const files = executorFiles(runtimeDir(config));
      // Before the store's and the executor's threads lower their priority (thread-priority.ts).
      if (config.executor.thread_nice > 0) startThreadPool();
      store = await openStore({ ...config.store, stateDir: config.supervisor.state_dir, threadFile: files.storeThread, threadNice: config.executor.thread_nice });
      registerApi(app, { config, store, state, plugin, rateLimited: (tenant) => metrics.rateLimited(tenant) });
      // Told to drain already: no executor, so no task is claimed only to be handed back.
      if (state.draining) return;
      const { threads, tasksPerThread } = computeSizing(config, readMachine());
      executor = await startExecutor({ config, store, log, threads, tasksPerThread, childId: state.id, files, onChange });
      await app.ready();
    } catch (err) {
      const message = (err as Error).message;
      process.stderr.write(`drover child ${state.id}: ${message}\n`);
      send({ t: 'boot-failed', message });
      process.exit(1);
    }
  })();
  await booting;
  if (state.draining) return;

  // Ready means accepting: the shared socket (when the supervisor lets children accept) is
  // listened on before the supervisor hears "ready".
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, LISTEN_ANSWER_MS);
    listenAnswered = () => {
      clearTimeout(timer);
      listenAnswered = undefined;
      resolve();
    };
    send({ t: 'want-listen' });
  });
  if (state.draining) return;

  setInterval(heartbeat, config.supervisor.heartbeat_interval * 1000);
  state.ready = true;
  idleReturn.start();
  send({ t: 'ready' });
  report();
}
