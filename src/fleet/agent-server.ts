// The TCP side of the agent-check: each connection gets the current line, then is closed.
// HAProxy may send an `agent-send` string first (ignored) and closes with an RST once it has
// read the line; a socket without an error handler would crash the supervisor on that RST.
import net from 'node:net';
import type { Logger } from '../log.ts';
import type { FleetConfig } from '../config/schema.ts';
import type { Supervisor } from '../supervisor/supervisor.ts';
import { agentReply, nodeMaxconn, type NodeState } from './agent-check.ts';

export interface AgentServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on host:port and answers every connection with `reply()`. */
export async function startAgentServer(host: string, port: number, reply: () => string, log: Logger): Promise<AgentServer> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    // Anything HAProxy sends is read and dropped, so our close is a FIN, not an RST.
    socket.resume();
    socket.setTimeout(5000, () => socket.destroy());
    socket.end(reply());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => (server.off('error', reject), resolve()));
  });
  server.on('error', (err) => log.error({ err }, 'agent-check server error'));
  const bound = (server.address() as net.AddressInfo).port;
  log.info({ host, port: bound }, 'agent-check listening');
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The supervisor's state as the agent-check sees it. */
export function supervisorState(sup: Supervisor, fleet: FleetConfig, stopping: boolean, storeReachable: boolean): NodeState {
  let readyChildren = 0;
  let taskSlots = 0;
  let runningTasks = 0;
  for (const c of sup.children.values()) {
    if (c.state !== 'ready') continue;
    readyChildren++;
    taskSlots += c.report?.taskSlots ?? 0;
    runningTasks += c.report?.runningTasks ?? 0;
  }
  return {
    stopping,
    draining: sup.draining,
    storeReachable,
    readyChildren,
    taskSlots,
    runningTasks,
    maxconn: nodeMaxconn(fleet.agent_maxconn, readyChildren, sup.config.balancer.child_target),
    haproxies: fleet.haproxies,
  };
}

/**
 * Starts the responder when `[fleet] agent_port` is set; undefined when it is off. The port
 * and address are fixed at start; agent_maxconn and haproxies follow a reloaded config.
 */
export function startFleetAgent(sup: Supervisor, isStopping: () => boolean, storeFault: () => string | null, log: Logger): Promise<AgentServer> | undefined {
  const { agent_port: port, agent_host: host } = sup.config.fleet;
  if (port === 0) return undefined;
  return startAgentServer(host, port, () => agentReply(supervisorState(sup, sup.config.fleet, isStopping(), storeFault() === null)), log);
}
