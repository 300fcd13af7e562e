// executor.main_semi_space_mb reaches a child's V8 through NODE_OPTIONS (the one place a single
// executable reads V8 flags from), and what the child's agents would start sees the operator's
// NODE_OPTIONS only.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, startDrover, stopAll } from '../../helpers/drover.ts';
import { request } from '../../helpers/http.ts';

afterAll(stopAll);

const MiB = 1024 * 1024;
const OPERATOR = '--max-old-space-size=3072';

describe("a child's nursery", () => {
  it('stays within executor.main_semi_space_mb under churn that grows an uncapped one past that', async () => {
    // The same churn in a process with the operator's NODE_OPTIONS only: what the child would do without the setting.
    const uncapped = Number(execFileSync(process.execPath, ['test/helpers/churn.ts', '300'], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: OPERATOR } }).toString());
    expect(uncapped).toBeGreaterThan(4 * MiB);

    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '1'], env: { NODE_OPTIONS: OPERATOR, DROVER_EXECUTOR__MAIN_SEMI_SPACE_MB: '1' } });
    const r = await request(d.url('/debug/churn?ms=300'), { method: 'POST' });
    expect(r.status).toBe(200);
    const { newSpace, nodeOptions } = r.json<{ newSpace: number; nodeOptions: string | null }>();
    // Two semi-spaces of 1 MiB, and V8's page of slack.
    expect(newSpace).toBeLessThan(4 * MiB);
    expect(nodeOptions).toBe(OPERATOR);
    await d.stop();
  });
});
