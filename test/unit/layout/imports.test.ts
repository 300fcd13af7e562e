// The layout the README describes, kept true by reading the import lines of src/: who may
// import whom, and no import circles (type-only imports included: a circle of types is still
// a tangle a reader has to hold in their head).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(SRC, path.join(e.parentPath, e.name)));
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;

/** Relative imports of every file in src/, as paths relative to src/. */
export function importsOf(files: string[], read: (f: string) => string): Import[] {
  const out: Import[] = [];
  for (const from of files) {
    for (const m of read(from).matchAll(IMPORT)) {
      const to = path.normalize(path.join(path.dirname(from), m[3]!));
      out.push({ from, to, typeOnly: m[2] !== undefined });
    }
  }
  return out;
}

/** Every circle in the graph, each as the files on it (Tarjan's strongly connected components). */
export function circles(edges: Import[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (next.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** Imports that break a layout rule, as "from → to (rule)". */
export function violations(edges: Import[]): string[] {
  const out: string[] = [];
  const under = (p: string, dir: string) => p.startsWith(`${dir}/`);
  for (const e of edges) {
    if (under(e.from, 'supervisor') && (under(e.to, 'http') || under(e.to, 'child'))) {
      out.push(`${e.from} → ${e.to} (the supervisor never loads the child's HTTP app)`);
    }
    // thread-priority.ts imports nothing of drover's: the store thread lowers its priority with it.
    const shared = (e.typeOnly && ['config/schema.ts', 'log.ts'].includes(e.to)) || e.to === 'thread-priority.ts';
    if (under(e.from, 'store') && !under(e.to, 'store') && !shared) {
      out.push(`${e.from} → ${e.to} (the store depends on nothing but shared types and thread-priority.ts)`);
    }
    if (under(e.from, 'balancer/child') && under(e.to, 'balancer/supervisor')) {
      out.push(`${e.from} → ${e.to} (the two sides of the balancer meet only in src/ipc)`);
    }
    if (under(e.from, 'ipc') && !under(e.to, 'ipc')) out.push(`${e.from} → ${e.to} (the IPC contract stands alone)`);
    if (e.from === 'thread-priority.ts') out.push(`${e.from} → ${e.to} (thread-priority.ts stands alone: the store uses it)`);
  }
  return out;
}

describe('the layout rules themselves', () => {
  const edge = (from: string, to: string, typeOnly = false): Import => ({ from, to, typeOnly });
  it.each([
    [[edge('supervisor/a.ts', 'http/app.ts')], 1],
    [[edge('supervisor/a.ts', 'child/main.ts')], 1],
    [[edge('supervisor/a.ts', 'ipc/messages.ts')], 0],
    [[edge('store/redis/index.ts', 'config/schema.ts', true)], 0],
    [[edge('store/redis/index.ts', 'config/schema.ts', false)], 1],
    [[edge('store/redis/index.ts', 'http/errors.ts', true)], 1],
    [[edge('store/sqlite/thread.ts', 'thread-priority.ts')], 0],
    [[edge('store/sqlite/thread.ts', 'worker-pool/heap.ts')], 1],
    [[edge('thread-priority.ts', 'log.ts', true)], 1],
    [[edge('balancer/child/a.ts', 'balancer/supervisor/b.ts')], 1],
    [[edge('ipc/messages.ts', 'balancer/supervisor/listen.ts', true)], 1],
  ])('%j breaks %i rule(s)', (edges, n) => {
    expect(violations(edges)).toHaveLength(n);
  });

  it('finds circles, self-imports included, and nothing in a tree', () => {
    expect(circles([edge('a.ts', 'b.ts'), edge('b.ts', 'c.ts'), edge('c.ts', 'a.ts'), edge('c.ts', 'd.ts')])).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(circles([edge('a.ts', 'a.ts')])).toEqual([['a.ts']]);
    expect(circles([edge('a.ts', 'b.ts'), edge('a.ts', 'c.ts'), edge('b.ts', 'c.ts')])).toEqual([]);
  });

  it('reads static imports and re-exports, type-only ones marked', () => {
    const text = "import a from './a.ts';\nimport type { B } from '../b.ts';\nexport { c } from './c/d.ts';\nimport fs from 'node:fs';\nimport './side.ts';";
    expect(importsOf(['x/y.ts'], () => text)).toEqual([
      { from: 'x/y.ts', to: 'x/a.ts', typeOnly: false },
      { from: 'x/y.ts', to: 'b.ts', typeOnly: true },
      { from: 'x/y.ts', to: 'x/c/d.ts', typeOnly: false },
      { from: 'x/y.ts', to: 'x/side.ts', typeOnly: false },
    ]);
  });
});

describe('src/ keeps its layout', () => {
  const edges = importsOf(sourceFiles(SRC), (f) => readFileSync(path.join(SRC, f), 'utf8'));

  it('reads the imports of every source file', () => {
    expect(edges.length).toBeGreaterThan(300);
    expect(edges.some((e) => e.from === 'child/main.ts' && e.to === 'ipc/messages.ts')).toBe(true);
  });

  it('breaks no layout rule', () => {
    expect(violations(edges)).toEqual([]);
  });

  it('has no import circles', () => {
    expect(circles(edges)).toEqual([]);
  });
});
