// A child's life as the supervisor records it: forked into a slot (fork.ts) and entered in the
// registry, ready, and gone — as planned (drain, reload, scale-down, stop) or not (a crash, a
// boot failure, a child killed for a hang or its memory). This module keeps the registry and
// the log true to that; what to do about each step is the supervisor's (LifeEvents).
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { ChildHandle } from './child.ts';
import type { ChildRegistry } from './children.ts';
import { forkChild } from './fork.ts';

export interface LifeEvents {
  ready(child: ChildHandle): void;
  /** It left the registry. `planned`: it was told to go; one not ready in time was not. */
  exited(child: ChildHandle, planned: boolean): void;
}

export class ChildLifecycle {
  private nextId = 1;
  private readonly registry: ChildRegistry;
  private readonly log: Logger;
  private readonly on: LifeEvents;

  constructor(registry: ChildRegistry, log: Logger, on: LifeEvents) {
    this.registry = registry;
    this.log = log;
    this.on = on;
  }

  /** Forks a child into `slot`; `replacement`: it replaces another (see forkChild). */
  fork(slot: number, generation: number, config: Config, replacement: boolean): ChildHandle {
    const id = this.nextId++;
    const child = forkChild(id, slot, generation, config, replacement);
    this.registry.add(child);
    this.log.info({ child: id, slot, childPid: child.pid, generation, replacement }, 'fork');
    child.on('ready', () => {
      this.log.info({ child: id, childPid: child.pid, bootMs: Date.now() - child.startedAt }, 'child ready');
      this.on.ready(child);
    });
    child.on('invalid', (message: unknown) => this.log.warn({ child: id, message }, 'malformed message from a child dropped'));
    child.on('exit', (code, signal) => {
      this.registry.remove(child);
      const planned = child.drainReason !== undefined && child.drainReason !== 'ready_timeout';
      this.log.info({ child: id, childPid: child.pid, code, signal, planned, reason: child.drainReason }, 'child exit');
      this.on.exited(child, planned);
    });
    return child;
  }
}
