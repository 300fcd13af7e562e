// What an Idempotency-Key stands for: the request it was first sent with. The hash covers
// where the request went (a task, or a turn of which session) and its body as the client sent
// it, minus the key itself, in a canonical form (object keys sorted), so the same request
// written with its fields in another order still matches. Defaults the server fills in are
// left out on purpose: a config reload must not make a client's retry a mismatch.
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level. Bodies are depth-limited before this runs. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function requestHash(target: { kind: string; sessionId?: string }, body: unknown): string {
  const { idempotency_key: _key, ...rest } = (body ?? {}) as Record<string, unknown>;
  const request = { kind: target.kind, session_id: target.sessionId ?? null, body: rest };
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}
