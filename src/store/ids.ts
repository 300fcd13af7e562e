// Task ids: creation time in base 36 (fixed width, so ids sort by time as strings), a
// per-process counter (ids made by one process in the same millisecond keep their order)
// and 64 random bits (ids made by different processes or machines never collide).
import { randomBytes } from 'node:crypto';

let lastTime = -1;
let counter = 0;

export function newTaskId(now: number): string {
  const time = Math.max(0, Math.floor(now), lastTime);
  counter = time === lastTime ? counter + 1 : 0;
  lastTime = time;
  return `t_${time.toString(36).padStart(9, '0')}${counter.toString(36).padStart(4, '0')}${randomBytes(8).toString('hex')}`;
}
