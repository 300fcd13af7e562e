// Request and response shapes of the public API, declared once. Request schemas close their
// objects (an unknown field is a 400, so a typo such as `priorty` never passes silently);
// response schemas double as the serialiser, so nothing internal (tenant, worker, lease)
// can leak into a response by accident.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { Config } from '../../config/schema.ts';
import type { TaskStatus } from '../../store/index.ts';

const STATUSES: TaskStatus[] = ['queued', 'running', 'cancelling', 'succeeded', 'dead', 'cancelled'];
const MAX_PAGE = 200;

// Ids the store made are `t_` + base-36 time/counter + hex; the pattern is loose enough for
// any backend's ids and strict enough to turn junk into a 400 before it reaches the store.
const TaskId = Type.String({ pattern: '^t_[0-9a-zA-Z]{1,64}$' });
// Session ids are chosen by the client (one per conversation).
const SessionId = Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' });

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const IdempotencyKey = Type.String({ minLength: 1, maxLength: 255 });

/** Options a submission may carry; limits come from the configuration. */
function submitOptions(config: Config) {
  return {
    priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000, description: 'higher runs first' })),
    idempotency_key: Type.Optional(IdempotencyKey),
    timeout_s: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: config.limits.max_task_timeout })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  };
}

export function buildSchemas(config: Config) {
  const WaitQuery = { wait: Type.Optional(Type.Number({ minimum: 0, maximum: config.limits.max_wait })) };
  const SubmitTask = Type.Object({ input: Type.Unknown(), ...submitOptions(config) }, { additionalProperties: false });
  // A turn is the user's message; the executor appends it and the agent's reply to the history.
  const ChatMessage = Type.Object({
    role: Type.Optional(Type.Literal('user')),
    content: Type.String({ minLength: 1 }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  }, { additionalProperties: false });
  const SendMessage = Type.Object({
    message: Type.Union([Type.String({ minLength: 1 }), ChatMessage]),
    ...submitOptions(config),
  }, { additionalProperties: false });
  return {
    SubmitTask,
    SendMessage,
    WaitQuery: Type.Object(WaitQuery),
    TaskParams: Type.Object({ id: TaskId }),
    SessionParams: Type.Object({ id: SessionId }),
    ListQuery: Type.Object({
      status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)))),
      limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 50 }),
      cursor: Type.Optional(TaskId),
    }),
    EventsQuery: Type.Object({ last_event_id: Type.Optional(Type.Integer({ minimum: 0 })) }),
  };
}

export type Schemas = ReturnType<typeof buildSchemas>;
export type SubmitTaskBody = Static<Schemas['SubmitTask']>;
export type SendMessageBody = Static<Schemas['SendMessage']>;
export type ListQuery = Static<Schemas['ListQuery']>;

/** ISO 8601, UTC. */
const Timestamp = Type.String();

const ErrorView = Type.Object({ code: Type.String(), message: Type.String() });

export const TaskView = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('task'), Type.Literal('turn')]),
  session_id: Nullable(Type.String()),
  status: Type.String(),
  priority: Type.Integer(),
  /** Number of the current or last run (0 before the first). */
  attempt: Type.Integer(),
  /** Every run, oldest first; `error` is why that run failed. */
  attempts: Type.Array(Type.Object({
    n: Type.Integer(),
    error: Nullable(ErrorView),
    started_at: Timestamp,
    finished_at: Nullable(Timestamp),
  })),
  max_attempts: Type.Integer(),
  timeout_s: Type.Number(),
  idempotency_key: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
  started_at: Nullable(Timestamp),
  finished_at: Nullable(Timestamp),
  input: Type.Optional(Type.Unknown()),
  result: Type.Unknown(),
  error: Nullable(ErrorView),
  links: Type.Object({
    self: Type.String(),
    events: Type.String(),
    session: Type.Optional(Type.String()),
  }),
});
export type TaskViewBody = Static<typeof TaskView>;

export const TaskList = Type.Object({ tasks: Type.Array(TaskView), next_cursor: Nullable(Type.String()) });

export const SessionView = Type.Object({
  id: Type.String(),
  messages: Type.Array(Type.Unknown()),
  created_at: Timestamp,
  updated_at: Timestamp,
  expires_at: Timestamp,
  links: Type.Object({ self: Type.String(), messages: Type.String() }),
});
export type SessionViewBody = Static<typeof SessionView>;
