import { describe, expect, it } from 'vitest';
import { isSettled } from '../../../src/balancer/supervisor/target.ts';

describe('a child is settled (may take a request read from a kept-alive connection)', () => {
  it.each([
    { why: 'took all it was handed, heard from just now', sent: 4, received: 4, silentMs: 0, heartbeatMs: 1000, settled: true },
    { why: 'idle, between two heartbeats', sent: 4, received: 4, silentMs: 999, heartbeatMs: 1000, settled: true },
    { why: 'idle, a heartbeat late by a loaded loop', sent: 0, received: 0, silentMs: 1900, heartbeatMs: 1000, settled: true },
    { why: 'a connection handed over not reported yet', sent: 5, received: 4, silentMs: 3, heartbeatMs: 1000, settled: false },
    { why: 'silent past two heartbeats: a loop held on a connection it accepted itself', sent: 4, received: 4, silentMs: 2001, heartbeatMs: 1000, settled: false },
    { why: 'two heartbeats are shorter with a shorter interval', sent: 0, received: 0, silentMs: 250, heartbeatMs: 100, settled: false },
  ])('$why: $settled', ({ sent, received, silentMs, heartbeatMs, settled }) => {
    expect(isSettled(sent, received, silentMs, heartbeatMs)).toBe(settled);
  });
});
