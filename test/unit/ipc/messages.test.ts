import { describe, expect, it } from 'vitest';
import { asChildMessage, asSupervisorMessage, NO_LIMIT } from '../../../src/ipc/messages.ts';

const load = {
  t: 'load', received: 3, connections: 2, inflight: 1, streams: 0, runningTasks: 4, taskSlots: 64,
  requests: 100, listening: true, rss: 80_000_000, eventLoopLag: 0.002, httpP95: 0.01, queueWaitP95: 0, draining: false,
};

describe('messages from a child', () => {
  it.each([
    { t: 'ready' },
    load,
    { ...load, streams: undefined, httpP95: undefined, queueWaitP95: undefined, listening: undefined },
    { t: 'boot-failed', message: 'agent module not found' },
    { t: 'want-listen' },
    { t: 'back' },
    { t: 'idle' },
    { t: 'unlistened' },
    { t: 'lent' },
    { t: 'metrics', id: 7, metrics: [{ name: 'x' }] },
  ])('accepts %j', (m) => {
    expect(asChildMessage(m)).toBe(m);
  });

  it.each([
    ['not an object', 'ready'],
    ['null', null],
    ["prom-client's own message", { type: 'prom-client:getMetricsReq', requestId: 1 }],
    ['an unknown type', { t: 'reboot' }],
    ['a load report missing a field', { ...load, inflight: undefined }],
    ['a negative count', { ...load, connections: -1 }],
    ['a fractional count', { ...load, received: 1.5 }],
    ['a count as a string', { ...load, runningTasks: '4' }],
    ['a lag that is not a number', { ...load, eventLoopLag: Number.NaN }],
    ['boot-failed without its reason', { t: 'boot-failed' }],
    ['metrics without an id', { t: 'metrics', metrics: [] }],
    ['metrics whose registry is not a list', { t: 'metrics', id: 1, metrics: {} }],
  ])('rejects %s', (_what, m) => {
    expect(asChildMessage(m)).toBeUndefined();
  });
});

describe('messages from the supervisor', () => {
  it.each([
    { t: 'conn' },
    { t: 'conn', head: Buffer.from('GET / HTTP/1.1\r\n').toString('base64') },
    { t: 'listen', limit: NO_LIMIT, spread: true },
    { t: 'limit', limit: 3, spread: false },
    { t: 'unlisten' },
    { t: 'lend' },
    { t: 'drain', deadlineMs: 30_000, reason: 'reload', idle: 'return' },
    { t: 'drain', deadlineMs: 0, reason: 'stop', idle: 'close' },
    { t: 'metrics', id: 1 },
  ])('accepts %j', (m) => {
    expect(asSupervisorMessage(m)).toBe(m);
  });

  it.each([
    ['a head that is not a string', { t: 'conn', head: 12 }],
    ['a limit past NO_LIMIT', { t: 'limit', limit: Number.MAX_VALUE, spread: false }],
    ['a limit without spread', { t: 'listen', limit: 2 }],
    ['a drain with an unknown idle mode', { t: 'drain', deadlineMs: 1000, reason: 'x', idle: 'keep' }],
    ['a drain without a deadline', { t: 'drain', reason: 'x', idle: 'return' }],
    ["a child's message", { t: 'ready' }],
  ])('rejects %s', (_what, m) => {
    expect(asSupervisorMessage(m)).toBeUndefined();
  });
});
