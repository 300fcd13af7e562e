// What an ideal scheduler could reach on the balancer benchmark's mixed-cost schedule: the
// same evenly spaced arrivals and seeded 10% heavy requests as bench/lib/openloop.ts, served by
// two servers from one central queue, in arrival order or quick-first (least expected work
// minus time waited, the rule drover's supervisor uses for requests it has read).
//   node bench/queue-sim.ts [--rate 250] [--overhead-ms 0]
import { parseArgs } from 'node:util';
import { seededRandom } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '250' },
    seconds: { type: 'string', default: '15' },
    'warmup-s': { type: 'string', default: '3' },
    'heavy-ms': { type: 'string', default: '40' },
    'light-ms': { type: 'string', default: '0.25' },
    'overhead-ms': { type: 'string', default: '0' },
    servers: { type: 'string', default: '2' },
    seed: { type: 'string', default: '42' },
  },
});
const rate = Number(args.rate);
const total = Math.round(rate * Number(args.seconds));
const warmup = Math.round(rate * Number(args['warmup-s']));
const random = seededRandom(Number(args.seed));
const heavy = Array.from({ length: total }, () => random() < 0.1);

function simulate(order: 'arrival' | 'quick-first', overheadMs: number): { p50: number; p99: number; max: number } {
  const work = (i: number) => (heavy[i] ? Number(args['heavy-ms']) : Number(args['light-ms'])) + overheadMs;
  const freeAt: number[] = Array(Number(args.servers)).fill(0);
  const waiting: { i: number; at: number }[] = [];
  const light: number[] = [];
  let next = 0;
  let now = 0;
  while (next < total || waiting.length) {
    const arrival = next < total ? (next * 1000) / rate : Infinity;
    const free = Math.min(...freeAt);
    if (waiting.length && free <= arrival) {
      now = Math.max(now, free);
      let pick = 0;
      if (order === 'quick-first') {
        let best = Infinity;
        waiting.forEach((w, k) => {
          const score = work(w.i) - (now - w.at);
          if (score < best) [best, pick] = [score, k];
        });
      }
      const w = waiting.splice(pick, 1)[0]!;
      const server = freeAt.indexOf(free);
      freeAt[server] = now + work(w.i);
      if (!heavy[w.i] && w.i >= warmup) light.push(freeAt[server]! - w.at);
    } else {
      now = arrival;
      waiting.push({ i: next++, at: arrival });
    }
  }
  light.sort((a, b) => a - b);
  const q = (p: number) => light[Math.min(light.length - 1, Math.floor(light.length * p))]!;
  return { p50: q(0.5), p99: q(0.99), max: light.at(-1)! };
}

const overhead = Number(args['overhead-ms']);
for (const order of ['arrival', 'quick-first'] as const) {
  const r = simulate(order, overhead);
  console.log(`${order.padEnd(11)} light p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms`);
}
