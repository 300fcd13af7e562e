// What the kernel says of a process and its threads (/proc): the fields `ps -L -o tid,comm,nice,time`
// shows. The benches' CPU accounting (bench/lib/cpu.ts) reads stat files with the same parser.
import { readdirSync, readFileSync } from 'node:fs';

/**
 * The fields of a /proc stat file (a process's, or a thread's under /proc/<pid>/task) after the
 * command name, which may hold spaces and parentheses: state(3) ppid(4) … utime(14) stime(15)
 * cutime(16) cstime(17) … nice(19), so index = field - 3.
 */
export function statFields(statFile: string): string[] {
  const text = readFileSync(statFile, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

export interface ThreadInfo {
  tid: number;
  /** The thread's name: Node's main thread is its process title, a worker thread "WorkerThread", V8's helpers "V8Worker". */
  comm: string;
  nice: number;
  /** utime + stime so far, in clock ticks. */
  ticks: number;
}

/** The threads of `pid` now; one that ends while they are read (ENOENT, or ESRCH while it is dying) is left out. */
export function threadsOf(pid: number): ThreadInfo[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((t) => {
    try {
      const f = statFields(`/proc/${pid}/task/${t}/stat`);
      const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      return [{ tid: Number(t), comm, nice: Number(f[16]), ticks: Number(f[11]) + Number(f[12]) }];
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ESRCH') return [];
      throw err;
    }
  });
}
