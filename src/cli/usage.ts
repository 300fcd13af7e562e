export const USAGE = `usage: drover <command> [options]

commands:
  start                 run the supervisor in the foreground (what systemd runs)
  status [--json]       children, load and totals of the running supervisor
  status --fleet        every node of the fleet (from the registry) and the fleet's totals
  top                   the status page in the terminal, live (q quits); plain lines when piped
  reload                rolling reload: re-read the config, replace children one at a time
  scale <N|+N|-N|auto>  pin the number of children (suspends autoscaling) and wait until they
                        are ready, or hand the count back; beyond autoscale.max_children
                        only with --force
  drain                 take no new work, let children finish and exit (reload/scale resumes)
  stop                  graceful stop: finish in-flight work, then exit
  check-config          validate the config; print it (secrets redacted) and the sizing
  types                 print the TypeScript types of an agent (drover types > drover.d.ts)
  types routes          print the TypeScript types of an [http] plugin (needs fastify's types)
  haproxy-config [HOST:PORT ...]
                        print an HAProxy configuration for these nodes (default: fleet.nodes)
  haproxy-sync [--once] on the HAProxy host: keep HAProxy's server slots in step with the
                        fleet registry (nodes join, drain, leave) through its Runtime API
  version               print the version
  help                  print this help

options:
  -c, --config FILE     TOML config (default: $DROVER_CONFIG, ./drover.toml, /etc/drover/drover.toml)
  --json                machine-readable output (status, check-config)
  --force               scale: go beyond autoscale.max_children
  --fleet               status: the whole fleet instead of this node
  --once                haproxy-sync: reconcile once and exit
  --host HOST           start: public API address (server.host)
  --port PORT           start: public API port (server.port)
  --children N|auto     start: number of HTTP children (supervisor.children)

exit codes: 0 ok, 1 the operation failed, 2 usage error, 3 invalid configuration,
            4 no supervisor is running (control socket unreachable)`;

export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3, notRunning: 4 } as const;

/** A mistake in how drover was called: one line, the usage, exit 2. */
export class UsageError extends Error {}
