import { EventEmitter, once } from 'node:events';
import type { AutoscaleLoop } from '../autoscaler/index.ts';
import type { Balancer, IdleConnections, PublicSocket } from '../balancer/supervisor/index.ts';
import type { Config } from '../config/schema.ts';
import { computeSizing, readMachine } from '../config/sizing.ts';
import type { IdleOnDrain } from '../ipc/messages.ts';
import type { Logger } from '../log.ts';
import type { ChildHandle } from './child.ts';
import { ChildLifecycle } from './child-lifecycle.ts';
import { ChildRegistry, type Children } from './children.ts';
import { rereadConfig } from './config-reload.ts';
import { SupervisorCounters } from './counters.ts';
import { setupFork } from './fork.ts';
import { HEALTH_CHECK_MS } from './health.ts';
import { HealthWatch } from './health-watch.ts';
import { Restarts } from './restarts.ts';
import { replaceChild, replaceInTurn, type Replaced } from './rolling-reload.ts';
import { drainExtras } from './scale-down.ts';
import { scaleVerdict } from './scale-refusal.ts';
import { SupervisorSockets } from './sockets.ts';
import { Notifier } from './systemd.ts';
import type { ReloadResult, SupervisorEvents, SupervisorHooks } from './types.ts';
/** How long start waits for the first child's copy of the socket before saying "started" anyway. */
const STEP_ASIDE_WAIT_MS = 2000;
/** How long a stop waits for each child to close its copy of the listening socket. */
const UNLISTEN_WAIT_MS = 1000;

/**
 * The cluster primary. One class owns the state of every child; the verbs a user types
 * (reload, scale, stop) are the names of the methods that do them, and signals map onto them
 * (HUP → reload, TERM/INT → stop, TTIN/TTOU → scale ±1). It never runs user code and never
 * touches request bytes: the balancer reads the start of a request only on a connection a
 * child gave back idle (balancer/idle.ts), and passes those bytes on to a child unparsed
 * beyond the request line.
 *
 * It decides nothing itself: pure functions return what to do, and it does it through one
 * module per idea. The loop is maintain() (gunicorn's manage_workers), which forks what the
 * restart policy allows (restarts.ts) and drains the children beyond desired (scale-down.ts),
 * and the health checks once a second (murder_workers; health-watch.ts). A child's fork, ready
 * and exit are recorded by child-lifecycle.ts, its sockets and accept limit handled by
 * sockets.ts; a reload replaces the children in turn (rolling-reload.ts).
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly counters = new SupervisorCounters();
  readonly balancer: Balancer;
  /** Keep-alive connections children gave back between requests (balancer.rebind_idle_after). */
  readonly idle: IdleConnections;
  readonly notifier: Notifier;
  readonly log: Logger;
  private readonly sockets: SupervisorSockets;
  private readonly registry = new ChildRegistry();
  private readonly lifecycle: ChildLifecycle;
  private readonly restarts: Restarts;
  private readonly health: HealthWatch;
  private readonly hooks: SupervisorHooks;
  private currentConfig: Config;
  private desiredCount: number;
  private currentGeneration = 1;
  /** `drover drain`: no new connections, children finish their work and exit; reload or scale resumes. */
  private isDraining = false;
  /** `drover scale N` pins the count and suspends the autoscaler until `drover scale auto`. */
  private isPinned = false;
  private autoscaleLoop?: AutoscaleLoop;
  private spawnTimer?: NodeJS.Timeout;
  private healthTimer?: NodeJS.Timeout;
  private replacing = 0;
  private exclusive: Promise<unknown> = Promise.resolve();
  private stopping?: Promise<number>;
  private fatalError?: string;

  constructor(config: Config, log: Logger, children: number, hooks: SupervisorHooks = {}) {
    super();
    this.currentConfig = config;
    this.log = log;
    this.hooks = hooks;
    this.desiredCount = children;
    this.notifier = new Notifier(log);
    this.lifecycle = new ChildLifecycle(this.registry, log, {
      ready: () => this.onReady(),
      exited: (child, planned) => this.onExit(child, planned),
    });
    this.restarts = new Restarts(() => this.config.supervisor, log, this.counters);
    this.health = new HealthWatch(this.registry, () => this.config.supervisor, log, this.counters, {
      maintain: () => this.maintain(),
      replace: (c) => this.exclusively(() => this.replace(c, 'memory')),
    });
    this.sockets = new SupervisorSockets(config, this.registry, log, {
      draining: () => this.isDraining,
      steppedAside: () => this.emit('stepped-aside'),
    });
    this.balancer = this.sockets.balancer;
    this.idle = this.sockets.idle;
  }

  /** The running configuration (replaced by each reload that accepts a new one). */
  get config(): Config {
    return this.currentConfig;
  }

  get children(): Children {
    return this.registry;
  }

  get listener(): PublicSocket | undefined {
    return this.sockets.listener;
  }

  /** Children the supervisor aims for. */
  get desired(): number {
    return this.desiredCount;
  }

  /** Counts reloads: every child forked by the same reload shares it. */
  get generation(): number {
    return this.currentGeneration;
  }

  get draining(): boolean {
    return this.isDraining;
  }

  get pinned(): boolean {
    return this.isPinned;
  }

  get autoscaler(): AutoscaleLoop | undefined {
    return this.autoscaleLoop;
  }

  readyCount(): number {
    return this.registry.count('ready');
  }

  statusLine(): string {
    return `${this.readyCount()} children ready, generation ${this.currentGeneration}`;
  }

  /** A reload, replacement or stop is under way: not the time for the autoscaler to decide. */
  busy(): boolean {
    return this.replacing > 0 || Boolean(this.stopping);
  }

  /** The autoscaler that calls scale() (supervisor/autoscale.ts). */
  attachAutoscaler(loop: AutoscaleLoop): void {
    this.autoscaleLoop = loop;
    loop.seed(this.desiredCount);
  }

  // The verbs: what `drover <verb>` and the signals do.

  /** Listens, forks the first generation and resolves once it is ready; rejects if no child can start. */
  async start(): Promise<void> {
    const listener = await this.sockets.listen(this.config.server, this.hooks.vetAddress);
    setupFork();
    this.maintain();
    this.healthTimer = setInterval(() => this.health.check(), HEALTH_CHECK_MS);
    await this.until(() => this.fatalError !== undefined || (this.readyCount() >= Math.min(1, this.desiredCount) && this.registry.count('starting') === 0));
    if (this.fatalError) throw new Error(this.fatalError);
    // Started means the children accept: the supervisor has stepped aside (or gives up waiting).
    if (listener.acceptingHere) {
      await once(this, 'stepped-aside', { signal: AbortSignal.timeout(STEP_ASIDE_WAIT_MS) }).catch(() => {});
    }
    this.notifier.ready(this.statusLine());
    this.notifier.startWatchdog(() => !this.stopping && this.readyCount() > 0);
    this.log.info({ children: this.readyCount() }, 'started');
  }

  /** Replaces every child, one at a time: fork, wait until ready, then drain the old one (rolling-reload.ts). */
  reload(): Promise<ReloadResult> {
    return this.exclusively(async () => {
      this.notifier.reloading();
      const refused = this.applyNewConfig();
      const result = refused ? { ok: false, replaced: 0, total: 0, error: refused } : await this.replaceAll();
      this.counters.reloaded(result.ok);
      this.notifier.ready(this.statusLine());
      return result;
    });
  }

  /** Sets the number of children; removed children are drained, never killed mid-request. */
  scale(n: number, reason = 'manual'): void {
    const desired = Math.max(0, Math.min(256, Math.round(n)));
    if (desired === this.desiredCount) return;
    this.counters.scaled(desired > this.desiredCount ? 'up' : 'down');
    this.log.info({ from: this.desiredCount, desired, reason }, 'scale');
    this.desiredCount = desired;
    this.maintain();
  }

  /** Why `drover scale n` is refused, if it is (scale-refusal.ts). */
  scaleRefusal(n: number, force: boolean): string | undefined {
    const verdict = scaleVerdict(n, force, computeSizing(this.config, readMachine()));
    if (!verdict.ok) return verdict.error;
    if (verdict.forcedPast) this.log.warn({ desired: n, ...verdict.forcedPast }, 'scale beyond max_children forced');
    return undefined;
  }

  /** `drover scale N`: sets the count and suspends the autoscaler. */
  pin(n: number): void {
    this.isPinned = true;
    this.undrain();
    this.scale(n, 'manual');
    this.answerWhenEmpty();
  }

  /** `drover scale auto`: the autoscaler decides again. */
  resumeAutoscale(): void {
    this.isPinned = false;
    this.autoscaleLoop?.seed(this.desiredCount);
    this.undrain();
    this.log.info('autoscaling resumed');
  }

  /** Resolves once exactly `desired` children are ready, or after `timeoutMs` with how many are. */
  async settled(timeoutMs: number): Promise<{ ok: boolean; ready: number }> {
    const ok = await this.until(() => this.readyCount() === this.desiredCount && this.registry.count('starting') === 0, timeoutMs);
    return { ok, ready: this.readyCount() };
  }

  /**
   * `drover drain`: the node takes no new connection (503 DRAINING, so a load balancer's
   * health check fails fast), every child finishes its requests and tasks and exits. The
   * supervisor stays up; `drover reload` or `drover scale` brings children back.
   */
  async drain(): Promise<void> {
    this.isDraining = true;
    this.balancer.setDraining(true);
    // Children stop accepting as they drain; from here on the supervisor answers new
    // connections itself (503 DRAINING).
    await this.sockets.acceptHere();
    // Connections waiting here for their next request are left to their keep-alive timeout, as
    // the children's are: closing one now could cut a request already on the wire. A request
    // that comes on one is answered 503 DRAINING.
    this.log.info({ children: this.registry.size }, 'draining the node');
    this.notifier.status('draining');
    await this.retireAll('drain', 'expire');
    this.log.info('node drained');
    this.notifier.status('drained');
  }

  /** Graceful stop: no new connections; children finish in-flight work up to shutdown_timeout. */
  stop(reason: string, code = 0): Promise<number> {
    if (this.stopping) {
      this.log.warn({ reason }, 'already stopping; killing what is left');
      for (const c of this.registry.values()) c.kill('SIGKILL');
      return this.stopping;
    }
    this.stopping = (async () => {
      // Stop accepting first: once "stopping" is logged, no new connection gets in.
      this.sockets.close();
      await Promise.all([...this.registry.values()].map((c) => c.unlisten(UNLISTEN_WAIT_MS)));
      this.log.info({ reason, children: this.registry.size }, 'stopping');
      this.notifier.stopping(`stopping: ${reason}`);
      this.notifier.stopWatchdog();
      clearInterval(this.healthTimer);
      clearTimeout(this.spawnTimer);
      await this.retireAll('shutdown', 'close');
      this.log.info({ code }, 'stopped');
      return code;
    })();
    return this.stopping;
  }

  // The loop: fork what is missing, drain what is extra, and react to children (manage_workers).

  /** Brings the number of live children to `desired`: forks after the backoff, drains extras. */
  private maintain(): void {
    if (this.stopping || this.fatalError || this.isDraining) return;
    const live = this.registry.slotted();
    if (live.length < this.desiredCount) {
      const missing = this.registry.missingSlots(this.desiredCount);
      // Replacements being started for a reload count too: the node is not empty.
      for (const a of this.restarts.due(missing, this.registry.live().length)) {
        if (a.type === 'spawn') this.spawn(a.slot, false);
        else if (a.type === 'wake') {
          clearTimeout(this.spawnTimer);
          this.spawnTimer = setTimeout(() => this.maintain(), a.inMs);
        }
      }
    } else if (live.length > this.desiredCount && this.replacing === 0) {
      drainExtras(live, live.length - this.desiredCount, this.config, this.log);
    }
  }

  private spawn(slot: number, replacement: boolean): ChildHandle {
    const child = this.lifecycle.fork(slot, this.currentGeneration, this.config, replacement);
    this.sockets.wire(child);
    return child;
  }

  private onReady(): void {
    this.restarts.ready();
    this.sockets.steer();
    this.balancer.dispatch();
    this.emit('changed');
  }

  private onExit(child: ChildHandle, planned: boolean): void {
    this.emit('changed');
    if (planned) this.emit('child-drained', { id: child.id, pid: child.pid, left: this.registry.size });
    if (this.stopping || child.isReplacement) return;
    this.sockets.steer();
    if (!planned) this.onUnplannedExit(child);
    this.balancer.dispatch();
    this.maintain();
  }

  /** Counts and logs the exit (restarts.ts); the next maintain() forks after the backoff. */
  private onUnplannedExit(child: ChildHandle): void {
    const fatal = this.restarts.exited(child, this.readyCount());
    if (!fatal) return;
    this.fatalError = fatal;
    this.emit('changed');
    void this.stop('no child can start', 1);
  }

  // The verbs' parts.

  /** Takes the re-read config for a reload; returns why it was refused, or undefined. */
  private applyNewConfig(): string | undefined {
    if (!this.hooks.reloadConfig) return undefined;
    const r = rereadConfig(this.hooks.reloadConfig, this.config, this.log);
    if ('error' in r) return r.error;
    this.currentConfig = r.config;
    return undefined;
  }

  /** The rolling part of a reload: a new generation takes over, child by child. */
  private replaceAll(): Promise<ReloadResult> {
    this.currentGeneration++;
    this.undrain('reload ends the drain');
    const olds = this.registry.live();
    this.log.info({ generation: this.currentGeneration, children: olds.length }, 'reload started');
    return replaceInTurn(olds, (old) => this.replace(old, 'reload'), this.log, (step) => this.emit('reload-step', step));
  }

  /** Forks a replacement for `old`, waits until it is ready, then drains `old` (rolling-reload.ts). */
  private async replace(old: ChildHandle, reason: 'reload' | 'memory'): Promise<Replaced> {
    this.replacing++;
    try {
      return await replaceChild(old, reason, (slot) => this.spawn(slot, true), this.config.supervisor, this.log);
    } finally {
      this.replacing--;
      this.maintain();
    }
  }

  /**
   * With no child wanted the node answers every connection 503 at once, as a drained node
   * does: left to the children, new connections would wait in the kernel backlog for a child
   * that never comes (health checks included).
   */
  private answerWhenEmpty(): void {
    if (this.isDraining) return;
    const none = this.desiredCount === 0;
    if (this.balancer.draining === none) return;
    this.balancer.setDraining(none);
    if (none) void this.sockets.acceptHere();
  }

  private undrain(why = 'drain ended'): void {
    if (!this.isDraining) return;
    this.isDraining = false;
    this.balancer.setDraining(false);
    this.log.info(why);
    this.maintain();
  }

  /**
   * Every child exits: those still starting are terminated, the others drain for up to
   * shutdown_timeout (`idle`: what they do with their idle keep-alive connections).
   */
  private async retireAll(reason: 'drain' | 'shutdown', idle: IdleOnDrain): Promise<void> {
    const sup = this.config.supervisor;
    const exits = [...this.registry.values()].map((c) => new Promise((r) => (c.state === 'exited' ? r(null) : c.once('exit', r))));
    for (const c of this.registry.values()) {
      if (c.state === 'starting') c.terminate(sup.kill_timeout * 1000, reason);
      else c.drain(sup.shutdown_timeout * 1000, sup.kill_timeout * 1000, reason, idle);
    }
    await Promise.all(exits);
  }

  /** Resolves true once `test` holds (checked now and at every 'changed'), or false after `timeoutMs`. */
  private until(test: () => boolean, timeoutMs?: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (test()) done(true);
      };
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.off('changed', check);
        resolve(ok);
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => done(false), timeoutMs);
      this.on('changed', check);
      check();
    });
  }

  private exclusively<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.exclusive.then(fn, fn);
    this.exclusive = run.catch(() => {});
    return run;
  }
}
