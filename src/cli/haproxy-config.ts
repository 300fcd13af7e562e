import type { Config } from '../config/schema.ts';
import { AddressError, haproxyConfig, parseNodeAddress } from '../fleet/haproxy-config.ts';
import { EXIT } from './usage.ts';

/**
 * `drover haproxy-config [host:port ...]`: prints the HAProxy configuration for the nodes
 * named on the command line, or else for `[fleet] nodes`. A bad address is one line on
 * stderr and exit 2 (a usage error), with no configuration printed.
 */
export function printHaproxyConfig(args: string[], config: Config): number {
  const list = args.length > 0 ? args : config.fleet.nodes;
  let nodes;
  try {
    nodes = list.map((a) => parseNodeAddress(a, config.server.port));
  } catch (err) {
    if (!(err instanceof AddressError)) throw err;
    process.stderr.write(`drover: ${err.message}\n`);
    return EXIT.usage;
  }
  const f = config.fleet;
  process.stdout.write(haproxyConfig({
    nodes,
    agentPort: f.agent_port,
    spareSlots: f.haproxy_slots,
    defaultPort: config.server.port || 8080,
    bind: f.haproxy_bind,
    statsSocket: f.haproxy_stats_socket,
    stateFile: f.haproxy_state_file,
    requestTimeout: config.server.request_timeout,
    maxWait: config.limits.max_wait,
    headerTimeout: config.server.header_timeout,
    sseHeartbeat: config.limits.sse_heartbeat,
  }));
  return EXIT.ok;
}
