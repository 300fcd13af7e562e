import { parseArgs } from 'node:util';
import pkg from '../../package.json' with { type: 'json' };
import { loadConfig, type LoadOptions } from '../config/load.ts';
import { computeSizing, explainSizing, readMachine } from '../config/sizing.ts';
import { redactConfig } from '../config/redact.ts';
import { controlSocketPath } from '../supervisor/control.ts';
import { runtimeDir } from '../supervisor/paths.ts';
import { checkAuthBind } from '../http/api/auth.ts';
import type { Status } from '../supervisor/status.ts';
import { control, NotRunningError } from './control-client.ts';
import { renderStatus } from './render.ts';
import { start } from './start.ts';
import { printHaproxyConfig } from './haproxy-config.ts';
import { EXIT, USAGE, UsageError } from './usage.ts';

const options = {
  config: { type: 'string', short: 'c' },
  host: { type: 'string' },
  port: { type: 'string' },
  children: { type: 'string' },
  strategy: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs appends advice about '--' to unknown options; the first sentence is the point.
    throw new UsageError((err as Error).message.split('. ')[0]!);
  }
}

function loadOptions(values: Values): LoadOptions {
  const flags: Record<string, unknown> = {};
  if (values.host !== undefined) flags['server.host'] = values.host;
  if (values.port !== undefined) flags['server.port'] = values.port;
  if (values.children !== undefined) flags['supervisor.children'] = values.children;
  if (values.strategy !== undefined) flags['balancer.strategy'] = values.strategy;
  return { file: values.config, env: process.env, flags };
}

function socketPath(values: Values): string {
  return controlSocketPath(runtimeDir(loadConfig(loadOptions(values)).config));
}

function print(values: Values, human: string, data: unknown): void {
  console.log(values.json ? JSON.stringify(data, null, 2) : human);
}

async function send(values: Values, req: Parameters<typeof control>[1], verb: string): Promise<number> {
  const r = await control(socketPath(values), req, (p) => console.log(values.json ? JSON.stringify(p) : p.message));
  if (values.json) console.log(JSON.stringify(r));
  else console.log(r.ok ? `${verb}: ok${'desired' in r ? ` (${r.desired} children${r.autoscale ? ', autoscaled' : ', pinned'})` : ''}` : `${verb} failed: ${r.error ?? `exit code ${String(r.code)}`}`);
  return r.ok ? EXIT.ok : EXIT.failure;
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
      return start(loadOptions(values));
    case 'status': {
      noArgs();
      const r = await control(socketPath(values), { cmd: 'status' });
      print(values, renderStatus(r.status as Status), r.status);
      return EXIT.ok;
    }
    case 'reload':
      noArgs();
      return send(values, { cmd: 'reload' }, 'reload');
    case 'scale': {
      if (args.length > 1) throw new UsageError(`unexpected argument '${args[1]}'`);
      return send(values, { cmd: 'scale', ...parseScale(args[0]) }, 'scale');
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
      checkAuthBind(loaded.config);
      const sizing = computeSizing(loaded.config, readMachine());
      const explanation = explainSizing(sizing);
      print(values, [`config: ${loaded.file ?? '(no file: defaults)'} is valid`, '', JSON.stringify(redactConfig(loaded.config), null, 2), '', 'sizing:', ...explanation.map((l) => `  ${l}`)].join('\n'),
        { file: loaded.file ?? null, config: redactConfig(loaded.config), sizing: { ...sizing, explanation } });
      return EXIT.ok;
    }
    case 'haproxy-config':
      return printHaproxyConfig(args, loadConfig(loadOptions(values)).config);
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
  try {
    const parsed = parse(argv);
    if (parsed.values.version) return (console.log(pkg.version), EXIT.ok);
    if (parsed.values.help) return (console.log(USAGE), EXIT.ok);
    const [command = 'help', ...rest] = parsed.positionals;
    return await run(command, rest, parsed.values);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`drover: ${err.message}\n${USAGE}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`drover: ${(err as Error).message}\n`);
    if (err instanceof NotRunningError) return EXIT.notRunning;
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && code.startsWith('CONFIG') ? EXIT.config : EXIT.failure;
  }
}
