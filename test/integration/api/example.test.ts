// The "Try it" command in the example agent's header, run as a reader would paste it (with
// the port of this drover), against the built-in example agent.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, startDrover, stopAll } from '../../helpers/drover.ts';

afterAll(stopAll);

describe('examples/agent.ts', () => {
  it('its "Try it" curl gets the answer it promises', async () => {
    const source = readFileSync(join(ROOT, 'examples/agent.ts'), 'utf8');
    const command = /^\/\/ Try it:\s+(curl .+)$/m.exec(source)?.[1];
    expect(command).toBeDefined();
    const d = await startDrover();
    try {
      const out = await new Promise<string>((resolve, reject) => {
        execFile('sh', ['-c', command!.replace('localhost:8080', `127.0.0.1:${d.port}`)], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
      });
      expect(JSON.parse(out)).toMatchObject({ status: 'succeeded', result: { content: 'echo: what is drover?', words: 3 } });
    } finally {
      await d.stop();
    }
  });
});
