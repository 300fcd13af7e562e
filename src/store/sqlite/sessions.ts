// Chat history: one row per session (its TTL) and one row per message, so an append writes
// only the new messages. The lock on a session is the claim on its running turn (see the
// claim query), so a turn's append is accepted only while that claim is current.
import { StoreError } from '../errors.ts';
import type { Session, SessionWriter } from '../types.ts';
import { validateMessages } from '../validate.ts';
import { ACTIVE, fromJson, toJson, type Ctx } from './context.ts';

interface SessionRow {
  next_index: number;
  created_at: number;
  updated_at: number;
  expires_at: number;
}

function read(ctx: Ctx, tenant: string, id: string, now: number): Session | null {
  const row = ctx.db.get<SessionRow>('SELECT * FROM sessions WHERE tenant = :tenant AND id = :id AND expires_at > :now', {
    tenant, id, now,
  });
  if (!row) return null;
  const messages = ctx.db
    .all<{ data: string }>('SELECT data FROM session_messages WHERE tenant = :tenant AND session_id = :id ORDER BY idx', { tenant, id })
    .map((m) => fromJson(m.data));
  return { tenant, id, messages, createdAt: row.created_at, updatedAt: row.updated_at, expiresAt: row.expires_at };
}

function remove(ctx: Ctx, tenant: string, id: string): void {
  ctx.db.run('DELETE FROM session_messages WHERE tenant = :tenant AND session_id = :id', { tenant, id });
  ctx.db.run('DELETE FROM sessions WHERE tenant = :tenant AND id = :id', { tenant, id });
}

export function sessionGet(ctx: Ctx, tenant: string, id: string): Session | null {
  return read(ctx, tenant, id, ctx.clock());
}

export function sessionAppend(ctx: Ctx, tenant: string, id: string, messages: unknown[], writer?: SessionWriter): Session {
  validateMessages(messages);
  const now = ctx.clock();
  return ctx.db.write(() => {
    if (writer) {
      const holds = ctx.db.get(
        `SELECT 1 FROM tasks WHERE id = :taskId AND fence = :fence AND tenant = :tenant AND session_id = :id AND ${ACTIVE}`,
        { taskId: writer.taskId, fence: writer.fence, tenant, id },
      );
      if (!holds) {
        throw new StoreError('STALE_FENCE', `turn ${writer.taskId} (fence ${writer.fence}) no longer holds session ${id}`);
      }
    }
    let row = ctx.db.get<SessionRow>('SELECT * FROM sessions WHERE tenant = :tenant AND id = :id', { tenant, id });
    if (row && row.expires_at <= now) {
      remove(ctx, tenant, id);
      row = undefined;
    }
    const first = row?.next_index ?? 0;
    ctx.db.run(
      `INSERT INTO sessions (tenant, id, next_index, created_at, updated_at, expires_at)
       VALUES (:tenant, :id, :next, :now, :now, :expiresAt)
       ON CONFLICT (tenant, id) DO UPDATE SET next_index = :next, updated_at = :now, expires_at = :expiresAt`,
      { tenant, id, next: first + messages.length, now, expiresAt: now + ctx.opts.sessionTtlMs },
    );
    messages.forEach((message, i) => {
      ctx.db.run('INSERT INTO session_messages (tenant, session_id, idx, data) VALUES (:tenant, :id, :idx, :data)', {
        tenant, id, idx: first + i, data: toJson(message),
      });
    });
    const session = read(ctx, tenant, id, now);
    if (!session) throw new Error(`session ${id} vanished inside its transaction`);
    return session;
  });
}

export function sessionDelete(ctx: Ctx, tenant: string, id: string): boolean {
  const now = ctx.clock();
  return ctx.db.write(() => {
    const live = ctx.db.get('SELECT 1 FROM sessions WHERE tenant = :tenant AND id = :id AND expires_at > :now', { tenant, id, now });
    remove(ctx, tenant, id);
    return live !== undefined;
  });
}

/** Inside a write transaction: removes sessions idle past their TTL. */
export function removeExpiredSessions(ctx: Ctx, now: number): number {
  const expired = ctx.db.all<{ tenant: string; id: string }>('SELECT tenant, id FROM sessions WHERE expires_at <= :now', { now });
  for (const s of expired) remove(ctx, s.tenant, s.id);
  return expired.length;
}
