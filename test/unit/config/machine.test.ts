// CPU share and memory limit from fake cgroup trees: v2 (with a systemd service below the
// root), v1 (a container's cpu,cpuacct and memory hierarchies) and none.
import { afterAll, describe, expect, it } from 'vitest';
import { cpuShare, memoryLimit, readMachine, type Probe } from '../../../src/config/sizing.ts';
import { tempDir } from './tmpfiles.ts';

const dir = tempDir();
afterAll(() => dir.remove());

const GiB = 2 ** 30;

/** A fake /sys/fs/cgroup + /proc/self/cgroup under its own folder, on an 8-core 16 GiB host. */
function tree(name: string, files: Record<string, string>, selfCgroup: string): Probe {
  for (const [path, text] of Object.entries(files)) dir.write(`${name}/cgroup/${path}`, text);
  return {
    cgroupRoot: `${dir.path}/${name}/cgroup`,
    selfCgroup: dir.write(`${name}/proc-self-cgroup`, selfCgroup),
    availableParallelism: () => 8,
    totalmem: () => 16 * GiB,
  };
}

describe('cpuShare / memoryLimit', () => {
  it('cgroup v2: reads the quota of the service cgroup drover runs in', () => {
    const probe = tree('v2-service', {
      'cgroup.controllers': 'cpu memory pids\n',
      'cpu.max': 'max 100000\n',
      'system.slice/drover.service/cpu.max': '150000 100000\n',
      'system.slice/drover.service/memory.max': `${2 * GiB}\n`,
      'system.slice/memory.max': 'max\n',
    }, '0::/system.slice/drover.service\n');
    expect(cpuShare(probe).cpus).toBe(1.5);
    expect(cpuShare(probe).source).toContain('cpu.max = 150000/100000');
    expect(memoryLimit(probe)).toEqual({ bytes: 2 * GiB, source: `cgroup v2 ${probe.cgroupRoot}/system.slice/drover.service/memory.max` });
  });

  it('cgroup v2: a tighter limit on a parent slice wins', () => {
    const probe = tree('v2-slice', {
      'cgroup.controllers': 'cpu memory\n',
      'agents.slice/cpu.max': '50000 100000\n',
      'agents.slice/memory.max': `${GiB}\n`,
      'agents.slice/drover.service/cpu.max': '400000 100000\n',
      'agents.slice/drover.service/memory.max': `${4 * GiB}\n`,
    }, '0::/agents.slice/drover.service\n');
    expect(readMachine(probe)).toMatchObject({ cpu: { cpus: 0.5 }, memory: { bytes: GiB } });
  });

  it('cgroup v2 in a container (namespace root): reads the root files', () => {
    const probe = tree('v2-container', { 'cgroup.controllers': 'cpu memory\n', 'cpu.max': '200000 100000\n', 'memory.max': `${3 * GiB}\n` }, '0::/\n');
    expect(readMachine(probe)).toMatchObject({ cpu: { cpus: 2 }, memory: { bytes: 3 * GiB } });
  });

  it('cgroup v2 without limits: the host\'s parallelism and memory', () => {
    const probe = tree('v2-unlimited', { 'cgroup.controllers': 'cpu memory\n', 'cpu.max': 'max 100000\n', 'memory.max': 'max\n' }, '0::/\n');
    expect(cpuShare(probe)).toEqual({ cpus: 8, source: 'os.availableParallelism() = 8' });
    expect(memoryLimit(probe)).toEqual({ bytes: 16 * GiB, source: 'os.totalmem()' });
  });

  it('cgroup v1: cfs quota / period and memory.limit_in_bytes of the process\'s cgroup', () => {
    const probe = tree('v1', {
      'cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      'cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '250000\n',
      'cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
      'memory/memory.limit_in_bytes': '9223372036854771712\n',
      'memory/docker/abc/memory.limit_in_bytes': `${512 * 2 ** 20}\n`,
    }, '12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n');
    expect(cpuShare(probe).cpus).toBe(2.5);
    expect(cpuShare(probe).source).toContain('cgroup v1');
    expect(memoryLimit(probe).bytes).toBe(512 * 2 ** 20);
  });

  it('cgroup v1 with no quota and the "unlimited" memory value: the host\'s', () => {
    const probe = tree('v1-unlimited', {
      'cpu/cpu.cfs_quota_us': '-1\n',
      'cpu/cpu.cfs_period_us': '100000\n',
      'memory/memory.limit_in_bytes': '9223372036854771712\n',
    }, '4:cpu:/\n9:memory:/\n');
    expect(readMachine(probe)).toMatchObject({ cpu: { cpus: 8 }, memory: { bytes: 16 * GiB, source: 'os.totalmem()' } });
  });

  it('no cgroup files at all: the host\'s', () => {
    const probe: Probe = { cgroupRoot: `${dir.path}/none`, selfCgroup: `${dir.path}/none/self`, availableParallelism: () => 3, totalmem: () => GiB };
    expect(readMachine(probe)).toEqual({
      cpu: { cpus: 3, source: 'os.availableParallelism() = 3' },
      memory: { bytes: GiB, source: 'os.totalmem()' },
    });
  });

  it('a quota above the cores the process may run on counts only those cores', () => {
    const probe = tree('v2-wide', { 'cgroup.controllers': 'cpu\n', 'cpu.max': '1600000 100000\n' }, '0::/\n');
    expect(cpuShare(probe).cpus).toBe(8);
  });
});
