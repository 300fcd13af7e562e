// How tasks and sessions look on the wire: snake_case, ISO times, and links a client can
// follow instead of building URLs.
import type { Session, Task } from '../../store/index.ts';
import type { SessionViewBody, TaskViewBody } from './schemas.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export const taskUrl = (id: string) => `/v1/tasks/${id}`;
export const sessionUrl = (id: string) => `/v1/sessions/${encodeURIComponent(id)}`;

export function taskView(t: Task, opts: { input: boolean }): TaskViewBody {
  const view: TaskViewBody = {
    id: t.id,
    kind: t.kind,
    session_id: t.sessionId,
    status: t.status,
    priority: t.priority,
    attempt: t.attempt,
    attempts: t.attempts.map((a) => ({ n: a.n, error: a.error, started_at: iso(a.startedAt), finished_at: isoOrNull(a.finishedAt) })),
    max_attempts: t.maxAttempts,
    timeout_s: t.timeoutMs / 1000,
    idempotency_key: t.idempotencyKey,
    created_at: iso(t.createdAt),
    updated_at: iso(t.updatedAt),
    started_at: isoOrNull(t.startedAt),
    finished_at: isoOrNull(t.finishedAt),
    result: t.result ?? null,
    error: t.error,
    links: {
      self: taskUrl(t.id),
      events: `${taskUrl(t.id)}/events`,
      ...(t.sessionId !== null && { session: sessionUrl(t.sessionId) }),
    },
  };
  if (opts.input) view.input = t.input;
  return view;
}

export function sessionView(s: Session): SessionViewBody {
  return {
    id: s.id,
    messages: s.messages,
    created_at: iso(s.createdAt),
    updated_at: iso(s.updatedAt),
    expires_at: iso(s.expiresAt),
    links: { self: sessionUrl(s.id), messages: `${sessionUrl(s.id)}/messages` },
  };
}
