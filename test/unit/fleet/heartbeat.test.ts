import { describe, expect, it } from 'vitest';
import { inFleet } from '../../../src/fleet/heartbeat.ts';
import type { Status } from '../../../src/supervisor/status.ts';

const child = {} as Status['children'][number];

describe('inFleet', () => {
  const cases: [string, boolean, number, boolean][] = [
    ['serving', false, 2, true],
    ['no child yet (starting, or scaled to 0): still a member, HAProxy hears down', false, 0, true],
    ['draining with children still finishing their work', true, 1, true],
    ['drained: the last child exited', true, 0, false],
  ];
  it.each(cases)('%s', (_, draining, children, want) => {
    expect(inFleet({ draining, children: Array.from({ length: children }, () => child) })).toBe(want);
  });
});
