// A process's threads as the kernel lists them (/proc/<pid>/task): what `ps -L -o tid,comm,nice` shows.
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadInfo {
  tid: number;
  /** The thread's name: Node's main thread is its process title, a worker thread "WorkerThread". */
  comm: string;
  nice: number;
}

/** The threads of `pid` now; one that ends while they are read is left out. */
export function threadsOf(pid: number): ThreadInfo[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((t) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      // The name sits in parentheses and may hold spaces; nice is the 19th field, the 17th after it.
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return [{ tid: Number(t), comm: readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim(), nice: Number(after[16]) }];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  });
}
