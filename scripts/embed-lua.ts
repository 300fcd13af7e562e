// An esbuild plugin for the single binary: replaces src/store/redis/lua-sources.ts (which
// reads the Lua files beside it at run time) with a module that returns their texts, read
// here at build time, since the bundle has no scripts/ directory to read.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Plugin } from 'esbuild';

export const embedLua: Plugin = {
  name: 'embed-lua',
  setup(build) {
    build.onLoad({ filter: /[\\/]store[\\/]redis[\\/]lua-sources\.ts$/ }, (args) => {
      const dir = join(dirname(args.path), 'scripts');
      const files = readdirSync(dir).filter((f) => f.endsWith('.lua')).sort();
      const sources = Object.fromEntries(files.map((f) => [f.slice(0, -'.lua'.length), readFileSync(join(dir, f), 'utf8')]));
      return {
        contents: `export function luaSources() { return ${JSON.stringify(sources)}; }\n`,
        loader: 'ts',
        watchFiles: files.map((f) => join(dir, f)),
      };
    });
  },
};
