import { parseArgs } from 'node:util';
import pkg from '../../package.json' with { type: 'json' };
import { loadConfig, type LoadOptions } from '../config/load.ts';
import { computeSizing, explainSizing, readMachine } from '../config/sizing.ts';
import { redactConfig } from '../config/redact.ts';
import { ConfigError, issue } from '../config/errors.ts';
import type { Status } from '../supervisor/status.ts';
import type { FleetListing } from '../fleet/registry.ts';
import { control, findControlSocket, NotRunningError } from './control-client.ts';
import { probeAsked } from './probe-env.ts';
import { renderFleet, renderStatus } from './render.ts';
import { agentTypes, routesTypes } from './types.ts';
import { EXIT, USAGE, UsageError } from './usage.ts';

// A command loads what it runs when it runs: the supervisor's modules (start) and the agent and
// plugin loaders (check-config, the probe) would take any command 0.8 s to load.

const options = {
  config: { type: 'string', short: 'c' },
  host: { type: 'string' },
  port: { type: 'string' },
  children: { type: 'string' },
  json: { type: 'boolean' },
  force: { type: 'boolean' },
  fleet: { type: 'boolean' },
  once: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

type Values = ReturnType<typeof parse>['values'];

/** `-1` is a count (`drover scale -1`), not an option: no option of ours is a digit. */
const NEGATIVE_COUNT = /^-\d+$/;

function parse(argv: string[]) {
  // parseArgs takes every `-x` for an option, so counts are set aside and put back in order.
  const kept = argv.filter((a) => !NEGATIVE_COUNT.test(a));
  let parsed;
  try {
    parsed = parseArgs({ args: kept, options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    // parseArgs appends advice about '--' to unknown options; the first sentence is the point.
    throw new UsageError((err as Error).message.split('. ')[0]!);
  }
  const originalIndex = argv.flatMap((a, i) => (NEGATIVE_COUNT.test(a) ? [] : [i]));
  const positionals = [
    ...parsed.tokens.flatMap((t) => (t.kind === 'positional' ? [{ at: originalIndex[t.index]!, value: t.value }] : [])),
    ...argv.flatMap((a, at) => (NEGATIVE_COUNT.test(a) ? [{ at, value: a }] : [])),
  ].sort((a, b) => a.at - b.at).map((p) => p.value);
  return { values: parsed.values, positionals };
}

function loadOptions(values: Values): LoadOptions {
  const flags: Record<string, unknown> = {};
  if (values.host !== undefined) flags['server.host'] = values.host;
  if (values.port !== undefined) flags['server.port'] = values.port;
  if (values.children !== undefined) flags['supervisor.children'] = values.children;
  return { file: values.config, env: process.env, flags };
}

function socketPath(values: Values): string {
  return findControlSocket(loadConfig(loadOptions(values)).config);
}

function print(values: Values, human: string, data: unknown): void {
  console.log(values.json ? JSON.stringify(data, null, 2) : human);
}

async function send(values: Values, req: Parameters<typeof control>[1], verb: string): Promise<number> {
  const r = await control(socketPath(values), req, (p) => console.log(values.json ? JSON.stringify(p) : p.message));
  if (values.json) console.log(JSON.stringify(r));
  else console.log(r.ok ? `${verb}: ok${'desired' in r ? ` (${describeCount(r)})` : ''}` : `${verb} failed: ${r.error ?? `exit code ${String(r.code)}`}`);
  return r.ok ? EXIT.ok : EXIT.failure;
}

/** "3 children ready, pinned" / "1 child ready, pinned" / "2 children, autoscaled". */
function describeCount(r: Record<string, unknown>): string {
  const n = Number(r.ready ?? r.desired);
  return `${n} ${n === 1 ? 'child' : 'children'}${r.ready === undefined ? '' : ' ready'}${r.autoscale ? ', autoscaled' : ', pinned'}`;
}

function parseScale(arg: string | undefined): { to: number | 'auto'; relative?: boolean } {
  if (arg === 'auto') return { to: 'auto' };
  if (arg === undefined || !/^[+-]?\d+$/.test(arg)) throw new UsageError(`scale takes N, +N, -N or auto (got ${arg === undefined ? 'nothing' : `'${arg}'`})`);
  return { to: Number(arg), relative: arg.startsWith('+') || arg.startsWith('-') };
}

async function run(command: string, args: string[], values: Values): Promise<number> {
  const noArgs = () => {
    if (args.length > 0) throw new UsageError(`unexpected argument '${args[0]}'`);
  };
  switch (command) {
    case 'start':
      noArgs();
      return (await import('./start.ts')).start(loadOptions(values));
    case 'status': {
      noArgs();
      if (values.fleet) {
        const r = await control(socketPath(values), { cmd: 'fleet' });
        print(values, renderFleet(r.fleet as FleetListing), r.fleet);
        return EXIT.ok;
      }
      const r = await control(socketPath(values), { cmd: 'status' });
      print(values, renderStatus(r.status as Status), r.status);
      return EXIT.ok;
    }
    case 'top':
      noArgs();
      return (await import('./top.ts')).top(socketPath(values));
    case 'reload':
      noArgs();
      return send(values, { cmd: 'reload' }, 'reload');
    case 'scale': {
      if (args.length > 1) throw new UsageError(`unexpected argument '${args[1]}'`);
      return send(values, { cmd: 'scale', ...parseScale(args[0]), ...(values.force && { force: true }) }, 'scale');
    }
    case 'drain':
      noArgs();
      return send(values, { cmd: 'drain' }, 'drain');
    case 'stop':
      noArgs();
      return send(values, { cmd: 'stop' }, 'stop');
    case 'check-config': {
      noArgs();
      const loaded = loadConfig(loadOptions(values));
      const checks = await (await import('./preflight.ts')).preflight(loaded.config, loaded.sources);
      if (checks.errors.length > 0) throw new ConfigError(checks.errors.map((e) => issue('CONFIG_INVALID', e)));
      const sizing = computeSizing(loaded.config, readMachine());
      const explanation = explainSizing(sizing);
      print(values, [`config: ${loaded.file ?? '(no file: defaults)'} is valid`, ...checks.warnings.map((w) => `warning: ${w}`), '', JSON.stringify(redactConfig(loaded.config), null, 2), '', 'sizing:', ...explanation.map((l) => `  ${l}`)].join('\n'),
        { file: loaded.file ?? null, warnings: checks.warnings, config: redactConfig(loaded.config), sizing: { ...sizing, explanation } });
      return EXIT.ok;
    }
    case 'types':
      if (args.length > 1 || (args[0] !== undefined && args[0] !== 'routes')) throw new UsageError(`unexpected argument '${args.at(-1)}' (drover types [routes])`);
      process.stdout.write(args[0] === 'routes' ? routesTypes() : agentTypes());
      return EXIT.ok;
    case 'haproxy-config':
      return (await import('./haproxy-config.ts')).printHaproxyConfig(args, loadConfig(loadOptions(values)).config);
    case 'haproxy-sync':
      noArgs();
      return (await import('./haproxy-sync.ts')).haproxySync(loadConfig(loadOptions(values)).config, values.once === true);
    case 'version':
      noArgs();
      console.log(pkg.version);
      return EXIT.ok;
    case 'help':
      console.log(USAGE);
      return EXIT.ok;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/** Runs one command; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  // The process start and check-config spawn to load the agent module: it ends itself.
  if (probeAsked()) {
    void import('./preflight.ts').then(({ runProbe }) => runProbe());
    return new Promise<number>(() => {});
  }
  try {
    const parsed = parse(argv);
    if (parsed.values.version) return (console.log(pkg.version), EXIT.ok);
    if (parsed.values.help) return (console.log(USAGE), EXIT.ok);
    const [command, ...rest] = parsed.positionals;
    if (command === undefined) throw new UsageError('no command given');
    return await run(command, rest, parsed.values);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`drover: ${err.message}\n${USAGE}\n`);
      return EXIT.usage;
    }
    // Every problem found, one line each: a user fixes them all in one go.
    const lines = err instanceof ConfigError ? err.issues.map((i) => i.message) : [(err as Error).message];
    process.stderr.write(lines.map((l) => `drover: ${l}\n`).join(''));
    if (err instanceof NotRunningError) return EXIT.notRunning;
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && code.startsWith('CONFIG') ? EXIT.config : EXIT.failure;
  }
}
