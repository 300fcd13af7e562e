// `drover haproxy-sync`: keeps HAProxy's server slots in step with the fleet registry through
// the Runtime API (shared/research/haproxy_sea.md §1.3). The decision is pure: HAProxy's
// servers and the registry's nodes in, Runtime API commands out. The loop around it reads
// both every tick and so reconciles from scratch after HAProxy's reload or its own restart;
// the only memory it keeps is since when a slot's node has been missing (a fresh start
// drains such a slot again and waits one grace more, which errs on the safe side).
//
// - a node with no slot gets a free one (a `spare` slot still at the placeholder address):
//   its address and port, health and agent checks enabled, state ready (slowstart ramps it in);
// - a node that says it is draining gets `state drain` (its agent says so too);
// - a slot whose node left the registry, or expired, goes to drain at once and, after the
//   grace, to maint with its agent disabled (an agent's `ready` would override maint) and
//   its address back to the placeholder, free for the next node.
import net from 'node:net';
import type { RegisteredNode } from './registry.ts';

/** The address haproxy-config gives spare slots (TEST-NET-1: never a real node). */
export const PLACEHOLDER_ADDR = '192.0.2.1';
export const BACKENDS = ['be_drover_api', 'be_drover_sse'] as const;

// srv_admin_state bits (HAProxy's SRV_ADMF_*).
const FMAINT = 0x01;
const FDRAIN = 0x08;

/** One row of `show servers state <backend>`, the fields the sync uses. */
export interface Slot {
  backend: string;
  name: string;
  addr: string;
  port: number;
  admin: number;
  /** An agent-check is configured on it (srv_agent_port > 0). */
  agent: boolean;
}

export interface SyncState {
  /** Slot key (`backend/name`) → when its node was first seen missing (ms). */
  missingSince: Map<string, number>;
}

const key = (s: Slot) => `${s.backend}/${s.name}`;
const free = (s: Slot) => s.addr === PLACEHOLDER_ADDR;

/** The Runtime API commands that bring `slots` in line with `nodes`, and the state to keep. */
export function reconcile(slots: Slot[], nodes: Pick<RegisteredNode, 'id' | 'address' | 'port' | 'draining'>[], state: SyncState, now: number, graceMs: number): { commands: string[]; state: SyncState } {
  const commands: string[] = [];
  const missingSince = new Map<string, number>();
  const where = (addr: string, port: number) => `${addr}:${port}`;
  const byAddress = new Map(nodes.map((n) => [where(n.address, n.port), n]));
  const placed = new Set<string>();

  for (const slot of slots) {
    if (free(slot)) continue;
    const node = byAddress.get(where(slot.addr, slot.port));
    const k = key(slot);
    if (node) {
      placed.add(where(node.address, node.port));
      if (node.draining && !(slot.admin & (FDRAIN | FMAINT))) commands.push(`set server ${k} state drain`);
      if (!node.draining && slot.admin & (FDRAIN | FMAINT)) {
        if (slot.admin & FMAINT) commands.push(`enable health ${k}`, ...(slot.agent ? [`enable agent ${k}`] : []));
        commands.push(`set server ${k} state ready`);
      }
      continue;
    }
    // Only slots this sync manages: a static server from fleet.nodes keeps its address and
    // is left to HAProxy's own checks when its node is not in the registry.
    if (!slot.name.startsWith('spare')) continue;
    const since = state.missingSince.get(k) ?? now;
    if (now - since < graceMs) {
      missingSince.set(k, since);
      if (!(slot.admin & (FDRAIN | FMAINT))) commands.push(`set server ${k} state drain`);
    } else {
      if (slot.agent) commands.push(`disable agent ${k}`);
      commands.push(`set server ${k} state maint`, `disable health ${k}`, `set server ${k} addr ${PLACEHOLDER_ADDR} port ${slot.port}`);
    }
  }

  // New nodes take the lowest free spare slot, the same name in every backend.
  const freeNames = [...new Set(slots.filter((s) => free(s) && s.name.startsWith('spare')).map((s) => s.name))]
    .filter((name) => slots.filter((s) => s.name === name).every(free))
    .sort((a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, '')));
  for (const node of nodes) {
    if (placed.has(where(node.address, node.port)) || node.draining) continue;
    const name = freeNames.shift();
    if (name === undefined) break;
    for (const slot of slots.filter((s) => s.name === name)) {
      const k = key(slot);
      commands.push(
        `set server ${k} addr ${node.address} port ${node.port}`,
        `enable health ${k}`,
        ...(slot.agent ? [`enable agent ${k}`] : []),
        `set server ${k} state ready`,
      );
    }
  }
  return { commands, state: { missingSince } };
}

/** Nodes the sync could not give a slot to (every spare taken): say so, HAProxy needs more slots. */
export function unplaced(slots: Slot[], nodes: Pick<RegisteredNode, 'address' | 'port' | 'draining'>[]): number {
  const taken = new Set(slots.filter((s) => !free(s)).map((s) => `${s.addr}:${s.port}`));
  const waiting = nodes.filter((n) => !n.draining && !taken.has(`${n.address}:${n.port}`)).length;
  const spare = new Set(slots.filter((s) => free(s) && s.name.startsWith('spare')).map((s) => s.name)).size;
  return Math.max(0, waiting - spare);
}

/** `show servers state <backend>` parsed into slots. */
export function parseServersState(backend: string, text: string): Slot[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines.find((l) => l.startsWith('# be_id'));
  if (!header) throw new Error(`haproxy: unexpected answer to 'show servers state ${backend}': ${text.trim().slice(0, 200)}`);
  const names = header.slice(2).split(' ');
  const at = (row: string[], field: string) => row[names.indexOf(field)] ?? '';
  // The first line is the format version; servers follow the header.
  return lines.slice(lines.indexOf(header) + 1).filter((l) => /^\d/.test(l)).map((l) => l.split(' ')).map((row) => ({
    backend,
    name: at(row, 'srv_name'),
    addr: at(row, 'srv_addr'),
    port: Number(at(row, 'srv_port')),
    admin: Number(at(row, 'srv_admin_state')),
    agent: Number(at(row, 'srv_agent_port')) > 0,
  }));
}

/** One Runtime API exchange over the stats socket: write the command, read until HAProxy closes. */
export function runtimeCommand(socket: string, cmd: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket, () => s.end(`${cmd}\n`));
    let out = '';
    s.setEncoding('utf8').on('data', (c: string) => (out += c)).on('end', () => resolve(out)).on('error', reject);
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`haproxy runtime API timed out on '${cmd}'`)));
  });
}

/** Every slot of drover's backends as HAProxy has them now. */
export async function readSlots(socket: string): Promise<Slot[]> {
  const out: Slot[] = [];
  for (const backend of BACKENDS) out.push(...parseServersState(backend, await runtimeCommand(socket, `show servers state ${backend}`)));
  return out;
}

/**
 * Runs commands, several per exchange (`;`-joined, as the Runtime API allows). HAProxy answers
 * an empty line for each that worked; anything else is an error worth logging.
 */
export async function applyCommands(socket: string, commands: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < commands.length; i += 16) {
    const batch = commands.slice(i, i + 16);
    const answer = (await runtimeCommand(socket, batch.join(';'))).trim();
    if (answer !== '') problems.push(...answer.split('\n').filter((l) => l.trim() !== '' && !/^IP changed from|port changed from|no need to change/.test(l)));
  }
  return problems;
}
