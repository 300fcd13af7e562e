// Retrying writes through a store outage: only UNAVAILABLE is waited out, and a stop ends it.
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/store/errors.ts';
import { untilStoreAnswers } from '../../../src/worker-pool/store-retry.ts';

const outage = () => new StoreError('UNAVAILABLE', 'redis: Connection is closed.');

describe('untilStoreAnswers', () => {
  it('calls again while the store is unreachable and returns its first answer', async () => {
    let calls = 0;
    const retries: number[] = [];
    const answer = await untilStoreAnswers(async () => {
      if (++calls < 4) throw outage();
      return 'done';
    }, { signal: new AbortController().signal, random: () => 0, onRetry: (_e, retry) => retries.push(retry) });
    expect(answer).toBe('done');
    expect(calls).toBe(4);
    expect(retries).toEqual([1, 2, 3]);
  });

  it.each([
    ['a stale fence', new StoreError('STALE_FENCE', 'not yours')],
    ['a closed store', new StoreError('STORE_CLOSED', 'closed')],
    ['any other error', new Error('bug')],
  ])('throws %s at once', async (_name, err) => {
    let calls = 0;
    await expect(untilStoreAnswers(async () => {
      calls++;
      throw err;
    }, { signal: new AbortController().signal })).rejects.toBe(err);
    expect(calls).toBe(1);
  });

  it('makes options given as a function only once a call failed, and turns a throw into a rejection', async () => {
    let made = 0;
    const options = () => {
      made++;
      return { signal: new AbortController().signal, random: () => 0 };
    };
    expect(await untilStoreAnswers(async () => 'at once', options)).toBe('at once');
    expect(made).toBe(0);
    let calls = 0;
    expect(await untilStoreAnswers(() => {
      if (++calls === 1) throw outage();
      return Promise.resolve('second');
    }, options)).toBe('second');
    expect([made, calls]).toEqual([1, 2]);
  });

  it('stops waiting when told to, with the outage as the error', async () => {
    const stop = new AbortController();
    let calls = 0;
    const run = untilStoreAnswers(async () => {
      calls++;
      throw outage();
    }, { signal: stop.signal, onRetry: () => stop.abort() });
    await expect(run).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(calls).toBe(2);
  });
});
