// `drover types > drover.d.ts`: the types an agent is written against (src/agent/types.ts),
// for an author who has the binary and not the repository. The binary carries the file as an
// asset (scripts/build.ts); from the sources it is read where it is.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getAsset, isSea } from 'node:sea';

/** SEA asset key of src/agent/types.ts. */
export const AGENT_TYPES_ASSET = 'agent-types.d.ts';

export function agentTypes(): string {
  if (isSea()) return getAsset(AGENT_TYPES_ASSET, 'utf8');
  return readFileSync(join(import.meta.dirname, '../agent/types.ts'), 'utf8');
}
