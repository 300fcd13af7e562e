// What one tiny request costs in drover against the user's yardstick: plain node:cluster round
// robin serving the same fastify route with default settings (bench/peers/plain-cluster.cjs),
// 2 children each, `wrk -t1 -c100` keep-alive, rounds alternated. Prints the req/s of each round
// and the median ratio, and the CPU each server's process tree spent per request (less noisy on a
// shared machine than req/s). Usage: node bench/cheap-requests.ts [rounds=5] [seconds=5]
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { killEverything, startProcess, stopProcess, waitForLine, type Managed } from './lib/procs.ts';
import { benchDir } from './lib/temp-dirs.ts';
import { median } from './lib/stats.ts';
import { runWrk } from './lib/wrk.ts';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const rounds = Number(process.argv[2] ?? 5);
const seconds = Number(process.argv[3] ?? 5);

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = net.createServer().once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => done(port));
    });
  });
}

interface Server { port: number; pid: number; stop(): Promise<void> }

/** CPU time (user + system, ms) used so far by `root` and every process below it. */
function treeCpuMs(root: number): number {
  const stats = new Map<number, { ppid: number; ms: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Fields after the command's closing parenthesis: state ppid ... utime(14) stime(15).
      const f = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ');
      stats.set(Number(name), { ppid: Number(f[1]), ms: (Number(f[11]) + Number(f[12])) * 10 });
    } catch {
      // The process ended while we looked.
    }
  }
  let total = 0;
  for (const [pid, s] of stats) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = stats.get(p)?.ppid) {
      if (p === root) {
        total += s.ms;
        break;
      }
    }
  }
  return total;
}

async function plain(): Promise<Server> {
  const port = await freePort();
  const m = startProcess('plain node:cluster', NODE, [join(ROOT, 'bench/peers/plain-cluster.cjs')], { env: { ...process.env, PORT: String(port), WORKERS: '2' } });
  await waitForLine(m, (l) => l.includes('"msg":"started"'), 30_000);
  return { port, pid: m.pid, stop: () => stopProcess(m, 'SIGTERM', 10_000) };
}

async function drover(): Promise<Server> {
  const cwd = benchDir('drover-cheap-');
  const m: Managed = startProcess('drover', NODE, [join(ROOT, 'src/main.ts'), 'start', '--port', '0', '--children', '2'], {
    cwd,
    env: {
      ...process.env,
      DROVER_AUTOSCALE__ENABLED: 'false',
      DROVER_SUPERVISOR__RUNTIME_DIR: cwd,
      DROVER_SUPERVISOR__STATE_DIR: join(cwd, 'state'),
      DROVER_ADMIN__PORT: '0',
    },
  });
  const listening = await waitForLine(m, (l) => l.includes('"msg":"listening"'), 30_000);
  await waitForLine(m, (l) => l.includes('"msg":"started"'), 30_000);
  return {
    port: (JSON.parse(listening) as { port: number }).port,
    pid: m.pid,
    stop: async () => {
      await stopProcess(m, 'SIGTERM', 20_000);
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

async function measure(start: () => Promise<Server>): Promise<{ rps: number; cpuUs: number }> {
  const s = await start();
  try {
    const url = `http://127.0.0.1:${s.port}/v1/ping`;
    await runWrk({ url, threads: 1, connections: 100, durationS: 1, close: false, timeoutS: 5 }); // warm-up
    const cpu0 = treeCpuMs(s.pid);
    const r = await runWrk({ url, threads: 1, connections: 100, durationS: seconds, close: false, timeoutS: 5 });
    const cpuUs = ((treeCpuMs(s.pid) - cpu0) * 1000) / r.requests;
    if (Object.keys(r.errors).length) process.stderr.write(`errors: ${JSON.stringify(r.errors)}\n`);
    return { rps: r.rps, cpuUs };
  } finally {
    await s.stop();
  }
}

try {
  const ratios: number[] = [];
  const cpu = { drover: [] as number[], plain: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    const [first, second] = i % 2 ? [drover, plain] : [plain, drover];
    const a = await measure(first);
    const b = await measure(second);
    const [d, p] = first === drover ? [a, b] : [b, a];
    ratios.push(d.rps / p.rps);
    cpu.drover.push(d.cpuUs);
    cpu.plain.push(p.cpuUs);
    console.log(`round ${i + 1}: drover ${d.rps.toFixed(0)} req/s (${d.cpuUs.toFixed(1)} µs CPU/request), plain node:cluster ${p.rps.toFixed(0)} req/s (${p.cpuUs.toFixed(1)} µs), ratio ${(d.rps / p.rps).toFixed(2)}×`);
  }
  console.log(`median ratio drover / plain node:cluster: ${median(ratios).toFixed(2)}× (target ≥ 1.0×)`);
  console.log(`median CPU per request: drover ${median(cpu.drover).toFixed(1)} µs, plain node:cluster ${median(cpu.plain).toFixed(1)} µs`);
} finally {
  killEverything();
}
