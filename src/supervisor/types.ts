// What the supervisor's users see of it: the results of its verbs, the events it emits, and
// the hooks start.ts plugs in. Apart from supervisor.ts so that the modules it is built from
// can name them without importing it.
import type net from 'node:net';
import type { Config } from '../config/schema.ts';

export interface ReloadResult {
  ok: boolean;
  replaced: number;
  total: number;
  error?: string;
}

export interface ReloadStep {
  step: number;
  total: number;
  oldPid?: number;
  newPid?: number;
}

export interface DrainedChild {
  id: number;
  pid?: number;
  /** Children still there. */
  left: number;
}

/** What the supervisor tells its listeners (control.ts follows reloads, drains and stops). */
export interface SupervisorEvents {
  /** A child started, became ready or exited, or no child can start. */
  changed: [];
  /** A child accepts from the shared socket, and the supervisor no longer does. */
  'stepped-aside': [];
  'reload-step': [ReloadStep];
  /** A child exited as planned (drain, reload, scale-down, stop). */
  'child-drained': [DrainedChild];
}

/** What start.ts plugs in: how to re-read the config, and how to judge the bound address. */
export interface SupervisorHooks {
  /** Re-reads the configuration for a reload; throws when the new one is invalid. */
  reloadConfig?: () => Config;
  /** Judges the address the public socket is really bound to; throws to refuse serving on it. */
  vetAddress?: (bound: net.AddressInfo | string, where: string) => void;
}
