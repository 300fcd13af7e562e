// The whole configuration, declared once. Types, defaults and validation all come from this
// schema; config.example.toml documents the same keys. Durations are seconds, sizes say their
// unit in the key name. A key left out takes the default shown here.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Seconds = (def: number, opts: { minimum?: number; maximum?: number; description: string }) =>
  Type.Number({ default: def, minimum: opts.minimum ?? 0, maximum: opts.maximum, description: opts.description, unit: 'seconds' });

const Int = (def: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ default: def, minimum, maximum, description });

const AutoOr = <T extends TSchema>(inner: T, description: string) =>
  Type.Union([Type.Literal('auto'), inner], { default: 'auto', description });

const Section = <T extends Record<string, TSchema>>(props: T) =>
  Type.Object(props, { default: {}, additionalProperties: false });

export const ServerSchema = Section({
  host: Type.String({ default: '127.0.0.1', description: 'address the public API listens on' }),
  port: Int(8080, 0, 65535, 'port the public API listens on (0 = any free port)'),
  backlog: Int(511, 1, 65535, 'listen backlog of the public socket'),
  body_limit_bytes: Int(1_048_576, 1024, 1_073_741_824, 'largest request body accepted (413 above)'),
  header_timeout: Seconds(10, { minimum: 1, description: 'time a client has to send the request headers' }),
  request_timeout: Seconds(360, { minimum: 1, description: 'time a client has to send a whole request and get its answer' }),
  keep_alive_timeout: Seconds(5, { minimum: 0, description: 'idle time before a keep-alive connection is closed' }),
  max_requests_per_connection: Int(0, 0, 1_000_000, 'requests served on one keep-alive connection before it is closed (0 = no limit; a child over its share moves connections to the others without it)'),
});

export const HttpSchema = Section({
  plugin: Type.String({ default: '', description: 'your own routes: a fastify plugin module (.ts, .js or .mjs) each child registers behind drover\'s API-key auth and error handling; a relative path is relative to the config file\'s directory ("" = none)' }),
});

export const SupervisorSchema = Section({
  children: AutoOr(Type.Integer({ minimum: 1, maximum: 256 }), 'number of HTTP children; auto = the CPU share from the cgroup quota'),
  ready_timeout: Seconds(30, { minimum: 1, description: 'time a new child has to report ready' }),
  shutdown_timeout: Seconds(330, { minimum: 0, description: 'on stop, time children get to finish in-flight requests and tasks before they are killed' }),
  kill_timeout: Seconds(5, { minimum: 0, description: 'time between SIGTERM and SIGKILL for a child that must die now (hung, over memory)' }),
  restart_delay: Seconds(0.5, { minimum: 0, description: 'first delay before restarting a crashed child; doubles on each crash of the same slot' }),
  restart_delay_max: Seconds(30, { minimum: 0, description: 'longest delay between restarts' }),
  healthy_after: Seconds(30, { minimum: 0, description: 'a child up this long resets the restart delay' }),
  max_boot_failures: Int(5, 1, 1000, 'children in a row that exit before ready before drover stops retrying (crash-loop breaker)'),
  max_rss_mb: Int(2048, 0, 1_048_576, 'a child above this resident memory is replaced gracefully (0 = off)'),
  max_rss_hard_mb: AutoOr(Type.Integer({ minimum: 0, maximum: 1_048_576 }), 'a child above this resident memory is killed at once (SIGKILL), even while it drains; its tasks go back to the queue when their leases run out; auto = 1.5 × max_rss_mb (0 = off)'),
  hang_timeout: Seconds(30, { minimum: 1, description: 'a child whose event loop is silent this long is replaced' }),
  heartbeat_interval: Seconds(1, { minimum: 0.05, maximum: 60, description: 'how often children report load and liveness' }),
  runtime_dir: Type.String({ default: '', description: 'control socket directory; empty = $RUNTIME_DIRECTORY, else $XDG_RUNTIME_DIR/drover, else /tmp/drover-<uid> (the CLI then also looks in /run/drover, the systemd unit\'s); created 0700, refused when another user owns it or can write to it' }),
  state_dir: Type.String({ default: '', description: 'durable state (embedded store); empty = $STATE_DIRECTORY, else ./.drover; created 0700, refused when another user owns it or can write to it' }),
});

export const BalancerSchema = Section({
  child_target: Int(256, 1, 1_000_000, 'requests being answered at which a child takes no new connection (open event streams and idle or slow connections do not count); above it connections wait in the supervisor'),
  rebind_idle_after: Seconds(0.01, { minimum: 0, maximum: 3600, description: 'once a handler has held a child\'s event loop (25 ms or more, within 30 s), its keep-alive connections idle this long go back to the supervisor, which gives each next request to a free child (0 = a connection stays with the child that accepted it)' }),
  queue_limit: Int(4096, 0, 1_000_000, 'connections that may wait in the supervisor while every child is at its target; more are refused'),
  queue_timeout: Seconds(30, { minimum: 0.1, description: 'longest a connection waits in the supervisor before it is closed' }),
});

export const AdminSchema = Section({
  host: Type.String({ default: '127.0.0.1', description: 'admin HTTP (/metrics, /status) address; loopback unless allow_remote' }),
  port: Int(9090, 0, 65535, 'admin HTTP port (0 = any free port)'),
  enabled: Type.Boolean({ default: true, description: 'serve the admin HTTP endpoint' }),
  allow_remote: Type.Boolean({ default: false, description: 'allow a non-loopback admin address (needs token)' }),
  token: Type.String({ default: '', description: 'bearer token required on the admin endpoint when allow_remote is set' }),
});

export const AutoscaleSchema = Section({
  enabled: Type.Boolean({ default: true, description: 'let drover choose the number of children' }),
  min_children: Int(1, 1, 256, 'fewest children (the floor)'),
  max_children: AutoOr(Type.Integer({ minimum: 1, maximum: 256 }), 'most children (the cost ceiling); auto = 2 × the CPU share'),
  interval: Seconds(5, { minimum: 0.2, description: 'seconds between decisions' }),
  tolerance: Type.Number({ default: 0.1, minimum: 0, maximum: 1, description: 'no change while every metric is within this fraction of its target' }),
  target_slot_utilization: Type.Number({ default: 0.7, exclusiveMinimum: 0, maximum: 1, description: 'running tasks / task slots to aim for' }),
  target_queue_wait: Seconds(5, { minimum: 0, description: 'p95 queue wait to aim for (0 = ignore)' }),
  target_http_p95: Seconds(0, { minimum: 0, description: 'p95 HTTP latency to aim for (0 = ignore)' }),
  max_event_loop_lag: Seconds(0.2, { minimum: 0, description: 'event-loop lag (p99) to aim for (0 = ignore)' }),
  scale_up_window: Seconds(0, { minimum: 0, description: 'scale-up stabilisation window' }),
  scale_down_window: Seconds(300, { minimum: 0, description: 'scale-down stabilisation window; the highest recommendation within it wins' }),
  scale_up_max_children: Int(4, 1, 256, 'at most this many children added per scale_up_period'),
  scale_up_max_percent: Type.Number({ default: 100, minimum: 0, description: 'or at most this percentage added per scale_up_period, whichever allows more' }),
  scale_up_period: Seconds(15, { minimum: 0.1, description: 'period of the scale-up policy' }),
  scale_down_max_children: Int(1, 1, 256, 'at most this many children removed per scale_down_period'),
  scale_down_period: Seconds(60, { minimum: 0.1, description: 'period of the scale-down policy' }),
  memory_reserve_mb: Int(512, 0, 1_048_576, 'never scale up while free memory is below this'),
  drain_timeout: Seconds(330, { minimum: 0, description: 'a child being removed gets this long to finish its requests and tasks; what is left goes back to the queue' }),
});

export const ExecutorSchema = Section({
  agent: Type.String({ default: '', description: 'module whose default export is run(input, ctx); empty = the built-in example agent' }),
  threads: AutoOr(Type.Integer({ minimum: 1, maximum: 256 }), 'executor threads per child; auto = from CPU per task and the arrival rate'),
  tasks_per_thread: AutoOr(Type.Integer({ minimum: 1, maximum: 100_000 }), 'concurrent tasks per thread; auto = Little\'s law capped by memory and provider limits'),
  expected_task_seconds: Seconds(60, { minimum: 0.001, description: 'mean time a task takes, mostly waiting on I/O' }),
  expected_arrival_rate: Type.Number({ default: 10, exclusiveMinimum: 0, description: 'tasks per second this node should absorb' }),
  cpu_ms_per_task: Type.Number({ default: 20, minimum: 0, description: 'CPU time one task uses (milliseconds)' }),
  target_cpu_utilization: Type.Number({ default: 0.5, exclusiveMinimum: 0, maximum: 1, description: 'share of a thread\'s CPU to plan for' }),
  memory_per_task_mb: Type.Number({ default: 0.5, exclusiveMinimum: 0, description: 'memory one in-flight task needs' }),
  memory_budget_mb: AutoOr(Type.Integer({ minimum: 16 }), 'memory for in-flight tasks per child; auto = a share of the cgroup / machine memory'),
  headroom: Type.Number({ default: 1.5, minimum: 1, description: 'multiplier over Little\'s law for bursts' }),
  task_timeout: Seconds(300, { minimum: 0.001, description: 'default time limit of one task attempt' }),
  max_attempts: Int(3, 1, 100, 'default attempts before a task is dead-lettered'),
  lease: Seconds(30, { minimum: 0.1, description: 'a running task\'s lease; renewed every lease/3; an expired lease returns the task to the queue' }),
  retry_delay: Seconds(1, { minimum: 0, description: 'first retry delay (doubles per attempt, with jitter)' }),
  retry_delay_max: Seconds(60, { minimum: 0, description: 'longest retry delay' }),
  poll_interval: Seconds(0.25, { minimum: 0.01, description: 'how often an idle child looks for queued tasks' }),
  abort_grace: Seconds(5, { minimum: 0.01, description: 'time an agent gets to return after its signal fired (timeout, cancel); then its slot is freed, and a thread it still holds after twice this is terminated and replaced (the other tasks on it go back to the queue)' }),
  thread_heap_mb: AutoOr(Type.Integer({ minimum: 0, maximum: 1_048_576 }), 'V8 heap limit of each executor thread; a thread over it dies and is replaced, its tasks retried; auto = supervisor.max_rss_mb ÷ threads, at least 64 (0 = no limit)'),
  heap_growing_percent: Int(150, 0, 1000, 'how far V8 lets a child\'s heap grow past what its last full collection kept, in percent: lower holds less memory per task in flight for more GC CPU (0 = V8\'s own choice, up to 300)'),
  thread_nice: Int(5, 0, 19, 'how much lower a child\'s executor threads and store thread run than its event loop, as a nice increment (Linux): on a full CPU the loop answering clients gets a core first (0 = one priority for all)'),
  main_semi_space_mb: Int(4, 0, 1024, 'V8 semi-space of a child\'s main thread and store thread (the nursery is two of them): smaller holds less memory per task in flight, and each cheap HTTP request pays for more scavenges (0 = V8\'s own choice, which grows to 64 MiB under load)'),
});

export const StoreSchema = Section({
  backend: Type.Union([Type.Literal('sqlite'), Type.Literal('redis')], { default: 'sqlite', description: 'where tasks, sessions and limits live: "sqlite" (one machine) or "redis" (nodes sharing one Redis)' }),
  path: Type.String({ default: '', description: 'SQLite file; empty = <state_dir>/drover.db' }),
  url: Type.String({ default: '', description: 'backend = "redis": redis://host:port[/db] (rediss:// for TLS); a password in it is never shown, prefer password_env' }),
  prefix: Type.String({ default: 'drover', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'backend = "redis": key prefix, so several deployments can share one Redis' }),
  password_env: Type.String({ default: '', description: 'backend = "redis": environment variable holding the Redis password (overrides one in url)' }),
  sentinels: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'backend = "redis": Sentinel addresses (host:port, port 26379 by default) that name the master, instead of url' }),
  sentinel_name: Type.String({ default: 'mymaster', minLength: 1, description: 'backend = "redis" with sentinels: the master\'s name the sentinels monitor' }),
  sentinel_password_env: Type.String({ default: '', description: 'backend = "redis" with sentinels: environment variable holding the sentinels\' own password (requirepass in sentinel.conf; the master\'s is password_env)' }),
  cluster_nodes: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'backend = "redis": seed nodes of a Redis Cluster (host:port, port 6379 by default), instead of url; the queue lives in one hash slot' }),
  tls: Type.Boolean({ default: false, description: 'backend = "redis": TLS to every Redis node and sentinel (with url, rediss:// says the same)' }),
  queue_limit: Int(100_000, 1, 100_000_000, 'queued tasks before submissions get 503: per node with sqlite, for the whole fleet with redis'),
  result_ttl: Seconds(86_400, { minimum: 1, description: 'how long finished tasks and their events are kept' }),
  session_ttl: Seconds(86_400, { minimum: 1, description: 'how long an idle session\'s history is kept' }),
  cleanup_interval: Seconds(60, { minimum: 1, description: 'how often expired data is removed' }),
  discard_orphaned_wal: Type.Boolean({ default: false, description: 'when the SQLite file is gone but its -wal is left, delete the log and start empty instead of refusing to start' }),
});

export const ApiKeySchema = Type.Object({
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'hex SHA-256 of the API key' }),
  tenant: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$', description: 'tenant the key belongs to' }),
}, { additionalProperties: false });

export const AuthSchema = Section({
  allow_anonymous: Type.Boolean({ default: false, description: 'with no keys, serve one anonymous tenant even on a non-loopback address' }),
  keys: Type.Array(ApiKeySchema, { default: [], description: 'API keys ([[auth.keys]] tables)' }),
});

export const LimitsSchema = Section({
  rate_per_second: Type.Number({ default: 20, exclusiveMinimum: 0, description: 'requests per second per tenant (token bucket refill)' }),
  burst: Int(40, 1, 1_000_000, 'token bucket size per tenant'),
  max_wait: Seconds(300, { minimum: 0, description: 'longest ?wait= a client may ask for' }),
  max_task_timeout: Seconds(3600, { minimum: 0.001, description: 'largest timeout_s a client may set on a task or turn' }),
  failed_auth_per_minute: Int(30, 0, 1_000_000, 'failed API-key attempts per client address (IPv6: per /64) per minute, per child; past them the address gets 429 AUTH_RATE_LIMITED, even with a right key, until its bucket refills (0 = no limit)'),
  queue_full_retry_after: Seconds(5, { minimum: 0, description: 'Retry-After sent with 503 QUEUE_FULL when the task queue is at store.queue_limit' }),
  max_json_depth: Int(64, 1, 10_000, 'deepest nesting of arrays and objects in a request body (400 BODY_TOO_DEEP above)'),
  sse_heartbeat: Seconds(15, { minimum: 0.01, maximum: 3600, description: 'interval of the `: ping` comment on an idle event stream; keep it below the proxy\'s idle timeouts (HAProxy timeout server/client)' }),
});

export const ProviderSchema = Type.Object({
  base_url: Type.String({ default: '', description: 'OpenAI-compatible base URL; empty on the mock provider = start the built-in mock' }),
  api_key_env: Type.String({ default: '', description: 'environment variable holding the API key' }),
  model: Type.String({ default: 'mock-1', description: 'model name sent to the provider' }),
  connections: Int(64, 1, 100_000, 'most connections to the provider per child; calls beyond them queue (HTTP/1.1: one call per connection; HTTP/2: up to 100 calls per connection)'),
  http2: Type.Union([Type.Literal('auto'), Type.Literal('h2c'), Type.Literal('off')], { default: 'auto', description: 'auto = HTTP/2 over TLS when the provider offers it (ALPN), else HTTP/1.1; h2c = HTTP/2 without TLS (prior knowledge) for an http:// provider that speaks it; off = HTTP/1.1 only (the built-in mock speaks h2c unless off)' }),
  max_concurrency: Int(256, 1, 1_000_000, 'concurrent requests per child'),
  tokens_per_minute: Int(0, 0, 1_000_000_000, 'token budget per child (0 = no limit)'),
  timeout: Seconds(120, { minimum: 0.1, description: 'one request\'s time limit' }),
  max_retries: Int(4, 0, 100, 'retries on 429, 5xx and connection errors'),
  breaker_failures: Int(5, 1, 10_000, 'consecutive provider faults (5xx, timeouts, lost connections) that open the circuit breaker'),
  breaker_cooldown: Seconds(10, { minimum: 0.1, description: 'time the breaker stays open before one trial call goes through' }),
  mock_latency_ms: Int(200, 0, 600_000, 'mock provider: time to answer'),
  mock_failure_rate: Type.Number({ default: 0, minimum: 0, maximum: 1, description: 'mock provider: share of requests answered 503' }),
}, { additionalProperties: false });

export const LlmSchema = Section({
  default_provider: Type.String({ default: 'mock', description: 'provider ctx.llm uses when none is named' }),
  providers: Type.Record(Type.String(), ProviderSchema, { default: { mock: {} }, description: 'providers by name ([llm.providers.<name>] tables)' }),
});

export const LogSchema = Section({
  level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info', description: 'log level' }),
  format: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], { default: 'auto', description: 'json: one JSON object per line (for journald and log shippers); pretty: readable lines; auto = pretty when stdout is a terminal, else json' }),
});

export const FleetSchema = Section({
  node_id: Type.String({ default: '', maxLength: 200, pattern: '^[A-Za-z0-9._:-]*$', description: 'this node\'s name in the fleet registry ("" = host name:server.port)' }),
  advertise_address: Type.String({ default: '', description: 'address other machines (HAProxy, haproxy-sync) reach this node at ("" = server.host when it is a specific address, else the first non-loopback IPv4 address)' }),
  heartbeat_interval: Seconds(2, { minimum: 0.1, maximum: 60, description: 'how often the node writes itself into the fleet registry; an entry not renewed for 3 intervals has expired (a dead node)' }),
  agent_port: Int(0, 0, 65535, 'TCP port of the HAProxy agent-check responder, the same on every node (0 = off)'),
  agent_host: Type.String({ default: '127.0.0.1', description: 'address the agent-check responder listens on: a loopback or private address, never a public one' }),
  agent_maxconn: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 0, maximum: 10_000_000 })], { default: 0, description: 'concurrent requests the agent offers HAProxy (maxconn:N), divided among fleet.haproxies (0 = not sent; auto = ready children × balancer.child_target)' }),
  haproxies: Int(1, 1, 64, 'number of HAProxies that check this node; the agent divides its maxconn among them'),
  nodes: Type.Array(Type.String(), { default: [], description: 'drover haproxy-config: node addresses (host:port; the port defaults to server.port) written as the backends\' servers' }),
  haproxy_slots: Int(16, 0, 4096, 'drover haproxy-config: spare server slots (server-template) for nodes that join later'),
  haproxy_bind: Type.String({ default: ':80', description: 'drover haproxy-config: address HAProxy\'s frontend binds' }),
  haproxy_stats_socket: Type.String({ default: '/run/haproxy/admin.sock', description: 'drover haproxy-config: HAProxy\'s admin stats socket (Runtime API, level admin)' }),
  haproxy_drain_grace: Seconds(30, { minimum: 0, maximum: 86_400, description: 'drover haproxy-sync: how long a slot whose node left the registry stays in drain before it goes to maint and is freed' }),
  haproxy_state_file: Type.String({ default: '/var/lib/haproxy/server-state', description: 'drover haproxy-config: server-state file kept across HAProxy reloads' }),
});

export const ConfigSchema = Type.Object({
  server: ServerSchema,
  http: HttpSchema,
  supervisor: SupervisorSchema,
  balancer: BalancerSchema,
  admin: AdminSchema,
  autoscale: AutoscaleSchema,
  executor: ExecutorSchema,
  store: StoreSchema,
  auth: AuthSchema,
  limits: LimitsSchema,
  llm: LlmSchema,
  log: LogSchema,
  fleet: FleetSchema,
}, { additionalProperties: false });

export type Config = Static<typeof ConfigSchema>;
export type ProviderConfig = Static<typeof ProviderSchema>;
export type AutoscaleConfig = Config['autoscale'];
export type ExecutorConfig = Config['executor'];
export type FleetConfig = Config['fleet'];
