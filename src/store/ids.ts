// Task ids: creation time in base 36 (fixed width, so ids sort by time as strings), a
// per-process counter (ids made by one process in the same millisecond keep their order)
// and 64 random bits (ids made by different processes or machines never collide).
import { randomFillSync } from 'node:crypto';

let lastTime = -1;
let counter = 0;

// Random bits are drawn 512 ids at a time: a call into the CSPRNG per id cost 2 µs and more,
// inside the transaction that holds the store's write lock.
const RANDOM_BYTES = 8;
const pool = Buffer.alloc(RANDOM_BYTES * 512);
let used = pool.length;

function randomHex(): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += RANDOM_BYTES;
  return pool.toString('hex', used - RANDOM_BYTES, used);
}

export function newTaskId(now: number): string {
  const time = Math.max(0, Math.floor(now), lastTime);
  counter = time === lastTime ? counter + 1 : 0;
  lastTime = time;
  return `t_${time.toString(36).padStart(9, '0')}${counter.toString(36).padStart(4, '0')}${randomHex()}`;
}
