// CPU accounting from /proc: how busy the whole machine was during a measurement, and how much
// of that was someone else's (the VM is shared). "Ours" is every process descended from this
// one (servers, and wrk or the generator once reaped, through cutime/cstime) plus extra roots
// that are not our descendants (PM2's daemon re-parents itself to init).
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { statFields } from '../../test/helpers/proc.ts';

interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
}

interface Snapshot {
  total: number;
  idle: number;
  ours: number;
}

export interface CpuUse {
  /** Busy share of all CPUs during the window, %. */
  machinePct: number;
  /** Busy share not spent by our processes, %: other tenants (and the kernel's unattributed work). */
  otherPct: number;
}

function machineTicks(): { total: number; idle: number } {
  const first = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const f = first.trim().split(/\s+/).slice(1, 9).map(Number);
  // user nice system idle iowait irq softirq steal
  const total = f.reduce((a, b) => a + b, 0);
  return { total, idle: (f[3] ?? 0) + (f[4] ?? 0) };
}

/** utime + stime of a process or thread so far, in clock ticks (its reaped children not counted). */
export function ownTicks(statFile: string): number {
  const f = statFields(statFile);
  return Number(f[11]) + Number(f[12]);
}

function readProc(pid: string): ProcStat | undefined {
  try {
    const f = statFields(`/proc/${pid}/stat`);
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined;
  }
}

/** Ticks of the processes in the trees under `roots` (the roots included). */
function treeTicks(roots: readonly number[]): number {
  const all = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readProc(name);
    if (s) all.set(Number(name), s);
  }
  const children = new Map<number, number[]>();
  for (const [pid, s] of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  let ticks = 0;
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += all.get(pid)?.ticks ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return ticks;
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on Linux). */
export const TICKS_PER_S = 100;

/** CPU ms used so far by the processes (all their threads) in the trees under `roots`. */
export function treeCpuMs(roots: readonly number[]): number {
  return (treeTicks(roots) * 1000) / TICKS_PER_S;
}

function snapshot(extraRoots: readonly number[]): Snapshot {
  const m = machineTicks();
  return { ...m, ours: treeTicks([process.pid, ...extraRoots]) };
}

/** Starts a window; the returned function ends it and says how the CPU was used. */
export function cpuWindow(extraRoots: readonly number[] = []): () => CpuUse {
  const a = snapshot(extraRoots);
  return () => {
    const b = snapshot(extraRoots);
    const total = b.total - a.total;
    if (total <= 0) return { machinePct: Number.NaN, otherPct: Number.NaN };
    const busy = total - (b.idle - a.idle);
    const other = Math.max(0, busy - (b.ours - a.ours));
    return { machinePct: (100 * busy) / total, otherPct: (100 * other) / total };
  };
}

/**
 * Waits (at most `maxS` seconds, in 1 s samples) until the machine is quieter than
 * `busyPct` while our servers sit idle, so another tenant's burst does not land in a
 * measurement. Returns how long it waited and the last busy share seen.
 */
export async function waitForQuiet(busyPct: number, maxS: number, extraRoots: readonly number[] = []): Promise<{ waitedS: number; busyPct: number }> {
  const started = Date.now();
  let last = Number.NaN;
  for (let i = 0; i < maxS; i++) {
    const end = cpuWindow(extraRoots);
    await new Promise((r) => setTimeout(r, 1000));
    last = end().machinePct;
    if (last < busyPct) break;
  }
  return { waitedS: Math.round((Date.now() - started) / 100) / 10, busyPct: last };
}

export function cpuModel(): string {
  const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
  return line?.split(':')[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
}
