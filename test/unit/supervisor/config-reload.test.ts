import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config/defaults.ts';
import type { Config } from '../../../src/config/schema.ts';
import { rereadConfig } from '../../../src/supervisor/config-reload.ts';

/** A logger whose lines the test reads back, as { level, msg, keys }. */
function recordingLogger() {
  const lines: { level: number; msg: string; keys?: string[] }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

const running = defaultConfig();
const edited = (edit: (c: Config) => void): Config => {
  const c = structuredClone(running);
  edit(c);
  return c;
};

describe('rereadConfig', () => {
  it.each([
    { name: 'a valid config is taken', next: edited((c) => (c.supervisor.restart_delay = 7)), warned: undefined },
    { name: 'a new port is taken, with a warning that it waits for a restart', next: edited((c) => (c.server.port += 1)), warned: ['server.port'] },
    {
      name: 'host and backlog too',
      next: edited((c) => {
        c.server.host = '127.0.0.2';
        c.server.backlog += 1;
      }),
      warned: ['server.host', 'server.backlog'],
    },
  ])('$name', ({ next, warned }) => {
    const { log, lines } = recordingLogger();
    expect(rereadConfig(() => next, running, log)).toEqual({ config: next });
    expect(lines.find((l) => l.msg.includes('next restart'))?.keys).toEqual(warned);
    expect(lines.at(-1)?.msg).toBe('config reloaded');
  });

  it('refuses a config that fails to load, with its error, and says the running one stays', () => {
    const { log, lines } = recordingLogger();
    const r = rereadConfig(() => { throw new Error('supervisor.restart_delay: must be a number'); }, running, log);
    expect(r).toEqual({ error: 'invalid config: supervisor.restart_delay: must be a number' });
    expect(lines.map((l) => l.msg)).toEqual(['reload refused: invalid config; the running config stays']);
  });
});
