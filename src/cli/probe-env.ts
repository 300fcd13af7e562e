// A drover process started only to load the agent module or the routes plugin (preflight.ts's
// probe) is told so by one of these variables. Kept apart from preflight.ts, which is heavy to
// load: every drover process asks, and should pay no more than an environment read for it.

/** Set on the process that only loads a module: the agent's, or the routes plugin's. */
export const PROBE_ENV = { agent: 'DROVER_AGENT_PROBE', plugin: 'DROVER_PLUGIN_PROBE' } as const;
export type ProbeKind = keyof typeof PROBE_ENV;

export function probeAsked(): boolean {
  return Boolean(process.env[PROBE_ENV.agent] || process.env[PROBE_ENV.plugin]);
}
