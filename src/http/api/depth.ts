// How deeply a JSON value nests. A client can send a body of 100,000 nested arrays in 200 KB,
// which JSON.parse takes (it does not recurse) but every recursive walk after it does not
// (JSON.stringify in the store overflowed the stack: a 500). Measured without recursion, and
// it stops as soon as the limit is passed.

/** True when `value` nests arrays/objects more than `max` levels deep (a scalar is depth 0). */
export function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
