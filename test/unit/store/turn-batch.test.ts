import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TurnBatch, TurnBatches } from '../../../src/store/turn-batch.ts';

describe('TurnBatches', () => {
  it('hands each key the items of one turn together, in arrival order, and starts afresh the next turn', async () => {
    const flushed: [string, number[]][] = [];
    const b = new TurnBatches<string, number>((key, items) => flushed.push([key, items]));
    b.add('a', 1);
    b.add('b', 2);
    b.add('a', 3);
    expect(flushed).toEqual([]);
    await nextTurn();
    expect(flushed).toEqual([['a', [1, 3]], ['b', [2]]]);
    b.add('a', 4);
    await nextTurn();
    expect(flushed).toEqual([['a', [1, 3]], ['b', [2]], ['a', [4]]]);
  });

  it('flushNow hands a key over at once and the end of the turn does not hand it over again; drop forgets it', async () => {
    const flushed: [string, number[]][] = [];
    const b = new TurnBatches<string, number>((key, items) => flushed.push([key, items]));
    b.add('a', 1);
    b.flushNow('a');
    expect(flushed).toEqual([['a', [1]]]);
    b.add('a', 2); // a new batch within the same turn, handed over once
    b.add('b', 3);
    b.drop('b');
    b.flushNow('c'); // nothing gathered: nothing handed over
    await nextTurn();
    await nextTurn();
    expect(flushed).toEqual([['a', [1]], ['a', [2]]]);
  });
});

describe('TurnBatch', () => {
  it('gathers one list per turn', async () => {
    const flushed: string[][] = [];
    const b = new TurnBatch<string>((items) => flushed.push(items));
    b.add('x');
    b.add('y');
    await nextTurn();
    b.add('z');
    b.flushNow();
    expect(flushed).toEqual([['x', 'y'], ['z']]);
  });
});
