// `drover types > drover.d.ts`: the types an agent is written against (src/agent/types.ts),
// and `drover types routes > drover-routes.d.ts` those of a routes plugin
// (src/http/plugin-types.ts), for an author who has the binary and not the repository. The
// binary carries the files as assets (scripts/build.ts); from the sources they are read where
// they are.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getAsset, isSea } from 'node:sea';

/** SEA asset key of src/agent/types.ts. */
export const AGENT_TYPES_ASSET = 'agent-types.d.ts';

/** SEA asset key of src/http/plugin-types.ts. */
export const ROUTES_TYPES_ASSET = 'routes-types.d.ts';

export function agentTypes(): string {
  if (isSea()) return getAsset(AGENT_TYPES_ASSET, 'utf8');
  return readFileSync(join(import.meta.dirname, '../agent/types.ts'), 'utf8');
}

export function routesTypes(): string {
  if (isSea()) return getAsset(ROUTES_TYPES_ASSET, 'utf8');
  return readFileSync(join(import.meta.dirname, '../http/plugin-types.ts'), 'utf8');
}
