import { execFile } from 'node:child_process';
import { MAIN, ROOT } from './drover.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `drover <args>` (the sources on this Node) and collects its output. */
export function cli(args: string[], env: Record<string, string> = {}, bin?: string): Promise<CliResult> {
  const [cmd, argv] = bin ? [bin, args] : [process.execPath, [MAIN, ...args]];
  return new Promise((resolve) => {
    execFile(cmd, argv, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
