// The Lua sources of scripts/, by file name without `.lua`. Read from the source tree here;
// the single binary's build (scripts/build.ts) replaces this module with one that embeds
// the same texts, since a bundle has no directory to read them from.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function luaSources(): Record<string, string> {
  const dir = join(import.meta.dirname, 'scripts');
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.lua'))
      .map((f) => [f.slice(0, -'.lua'.length), readFileSync(join(dir, f), 'utf8')]),
  );
}
