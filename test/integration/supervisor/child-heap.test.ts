// executor.main_semi_space_mb reaches a child's V8 through NODE_OPTIONS (the one place a single
// executable reads V8 flags from), and what the child's agents would start sees the operator's
// NODE_OPTIONS only.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, startDrover, stopAll } from '../../helpers/drover.ts';
import { request } from '../../helpers/http.ts';
import { CHURN_ROUNDS } from '../../helpers/churn.ts';

afterAll(stopAll);

const MiB = 1024 * 1024;
const OPERATOR = '--max-old-space-size=3072';
// Uncapped, V8 grows new space to 64 MiB under this churn. Capped at 1 MiB semi-spaces it
// reports 2–14 MiB: V8 holds pages past the cap while it promotes survivors (2–2.25 MiB on an
// AMD EPYC, up to 14 MiB seen on an Intel Xeon with the churn of earlier sessions).
const CAPPED_BELOW = 32 * MiB;

describe("a child's nursery", () => {
  it('stays within executor.main_semi_space_mb under churn that grows an uncapped one past that', async () => {
    // The same churn in a process with the operator's NODE_OPTIONS only: what the child would do without the setting.
    const uncapped = Number(execFileSync(process.execPath, ['test/helpers/churn.ts', String(CHURN_ROUNDS)], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: OPERATOR } }).toString());
    expect(uncapped).toBeGreaterThan(CAPPED_BELOW);

    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '1'], env: { NODE_OPTIONS: OPERATOR, DROVER_EXECUTOR__MAIN_SEMI_SPACE_MB: '1' } });
    const r = await request(d.url(`/debug/churn?rounds=${CHURN_ROUNDS}`), { method: 'POST' });
    expect(r.status).toBe(200);
    const { newSpace, nodeOptions } = r.json<{ newSpace: number; nodeOptions: string | null }>();
    expect(newSpace).toBeLessThan(CAPPED_BELOW);
    expect(nodeOptions).toBe(OPERATOR);
    await d.stop();
  });
});
