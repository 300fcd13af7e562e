// What this process may use: the CPU share and memory limit of its cgroup (systemd's
// CPUQuota=/MemoryMax=, a container's --cpus/--memory), else the machine's. os.cpus() counts
// the host's cores even inside a 2-CPU container, so sizing from it would oversubscribe.
// A limit can sit on any ancestor cgroup (a slice, the container), so the whole chain from the
// process's own cgroup up to the root is read and the tightest limit wins.
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';

/** Where and how to read; tests point these at a fake tree in a temp dir. */
export interface Probe {
  /** Mount point of the cgroup hierarchy. Default /sys/fs/cgroup. */
  readonly cgroupRoot?: string;
  /** The process's cgroup membership file. Default /proc/self/cgroup. */
  readonly selfCgroup?: string;
  /** Returns the file's contents, or undefined if it cannot be read. */
  readonly readFile?: (path: string) => string | undefined;
  readonly availableParallelism?: () => number;
  readonly totalmem?: () => number;
}

export interface CpuShare {
  /** CPUs this process may use, possibly fractional (a quota of 150000/100000 = 1.5). */
  readonly cpus: number;
  /** Where the number came from, for the sizing explanation. */
  readonly source: string;
}

export interface MemoryLimit {
  readonly bytes: number;
  readonly source: string;
}

export interface Machine {
  readonly cpu: CpuShare;
  readonly memory: MemoryLimit;
}

export function readMachine(probe: Probe = {}): Machine {
  return { cpu: cpuShare(probe), memory: memoryLimit(probe) };
}

export function cpuShare(probe: Probe = {}): CpuShare {
  const fs = resolveProbe(probe);
  const cores = fs.availableParallelism();
  const limit = tightest(fs, (dir, version) => {
    if (version === 2) {
      const [quota, period] = (fs.readFile(join(dir, 'cpu.max')) ?? '').trim().split(/\s+/);
      if (quota === undefined || quota === '' || quota === 'max') return undefined;
      return { value: Number(quota) / Number(period ?? 100_000), source: `cgroup v2 ${join(dir, 'cpu.max')} = ${quota}/${period ?? 100_000}` };
    }
    const quota = Number((fs.readFile(join(dir, 'cpu.cfs_quota_us')) ?? '').trim() || -1);
    const period = Number((fs.readFile(join(dir, 'cpu.cfs_period_us')) ?? '').trim() || 100_000);
    if (!(quota > 0 && period > 0)) return undefined;
    return { value: quota / period, source: `cgroup v1 ${join(dir, 'cpu.cfs_quota_us')} = ${quota}/${period}` };
  }, ['cpu', 'cpu,cpuacct', 'cpuacct,cpu']);
  if (limit === undefined || limit.value >= cores) return { cpus: cores, source: `os.availableParallelism() = ${cores}` };
  return { cpus: limit.value, source: limit.source };
}

export function memoryLimit(probe: Probe = {}): MemoryLimit {
  const fs = resolveProbe(probe);
  const total = fs.totalmem();
  const limit = tightest(fs, (dir, version) => {
    const file = version === 2 ? 'memory.max' : 'memory.limit_in_bytes';
    const text = (fs.readFile(join(dir, file)) ?? '').trim();
    if (!/^\d+$/.test(text)) return undefined; // "max", or no file
    return { value: Number(text), source: `cgroup v${version} ${join(dir, file)}` };
  }, ['memory']);
  // cgroup v1 writes "no limit" as a huge number; anything above the RAM is no limit at all.
  if (limit === undefined || limit.value >= total) return { bytes: total, source: 'os.totalmem()' };
  return { bytes: limit.value, source: limit.source };
}

type Reader = (dir: string, version: 1 | 2) => { value: number; source: string } | undefined;

/** The smallest limit along the process's cgroup path and its ancestors. */
function tightest(fs: Required<Probe>, read: Reader, v1Controllers: string[]): { value: number; source: string } | undefined {
  const membership = (fs.readFile(fs.selfCgroup) ?? '').split('\n').map((l) => l.split(':'));
  let dirs: string[];
  let version: 1 | 2;
  if (fs.readFile(join(fs.cgroupRoot, 'cgroup.controllers')) !== undefined) {
    version = 2;
    const own = membership.find(([id]) => id === '0')?.[2] ?? '/';
    dirs = ancestors(own).map((p) => join(fs.cgroupRoot, p));
  } else {
    version = 1;
    const line = membership.find(([, controllers]) => (controllers ?? '').split(',').some((c) => v1Controllers.some((want) => want.split(',').includes(c))));
    const own = line?.[2] ?? '/';
    dirs = v1Controllers.flatMap((mount) => ancestors(own).map((p) => join(fs.cgroupRoot, mount, p)));
  }
  let best: { value: number; source: string } | undefined;
  for (const dir of dirs) {
    const found = read(dir, version);
    if (found !== undefined && (best === undefined || found.value < best.value)) best = found;
  }
  return best;
}

/** '/a/b' → ['/a/b', '/a', '/']. */
function ancestors(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '');
  return parts.map((_, i) => `/${parts.slice(0, parts.length - i).join('/')}`).concat('/');
}

function resolveProbe(probe: Probe): Required<Probe> {
  return {
    cgroupRoot: probe.cgroupRoot ?? '/sys/fs/cgroup',
    selfCgroup: probe.selfCgroup ?? '/proc/self/cgroup',
    readFile: probe.readFile ?? readIfExists,
    availableParallelism: probe.availableParallelism ?? availableParallelism,
    totalmem: probe.totalmem ?? totalmem,
  };
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
