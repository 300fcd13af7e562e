import { describe, expect, it } from 'vitest';
import { withSection } from '../../../bench/lib/report.ts';

const RUN_1 = '## Agents\n\nRun 1.\n\n| a |\n| 1 |';
const RUN_2 = '## Agents\n\nRun 2.\n\n| a |\n| 2 |';
const HAND = '# Benchmark results\n\n## Agents\n\n### What we learned\n\nKept by hand.\n\n## Agent density\n\nOther bench.\n';

describe('writing a bench run into RESULTS.md', () => {
  it.each([
    ['a file without the section', '# Benchmark results\n', ['# Benchmark results', 'Run 2.'], []],
    ['a section written by hand', HAND, ['### What we learned', 'Kept by hand.', '## Agent density', 'Other bench.', 'Run 2.'], []],
    ['a section with an earlier run', withSection(HAND, RUN_1), ['Kept by hand.', 'Other bench.', 'Run 2.'], ['Run 1.']],
  ])('%s: the run goes in, nothing written by hand is lost', (_name, before, kept, gone) => {
    const after = withSection(before, RUN_2);
    for (const text of kept) expect(after).toContain(text);
    for (const text of gone) expect(after).not.toContain(text);
    expect(after.match(/^## Agents$/gm)).toHaveLength(1);
    // Written again, the same run changes nothing.
    expect(withSection(after, RUN_2)).toBe(after);
  });

  it('puts the run under its heading, above what was written by hand', () => {
    const after = withSection(HAND, RUN_1);
    expect(after.indexOf('Run 1.')).toBeGreaterThan(after.indexOf('## Agents'));
    expect(after.indexOf('Run 1.')).toBeLessThan(after.indexOf('### What we learned'));
  });

  it('refuses a section without a "## " heading', () => {
    expect(() => withSection(HAND, '### Agents\n\nRun.')).toThrow(/must start with "## "/);
  });
});
