// Issue 14 item 4: 3,000 random API keys in 0.9 s were all answered 401; nothing slowed the
// guessing down. Failed attempts are now limited per client address (a token bucket of
// limits.failed_auth_per_minute), and an address past its bucket gets 429 before any hashing.
import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { startDrover, stopAll } from '../../helpers/drover.ts';

afterAll(stopAll);

const KEY = 'k-auth-failures-test';
const config = `[[auth.keys]]\nsha256 = "${createHash('sha256').update(KEY).digest('hex')}"\ntenant = "acme"\n`;

/** GET with a key, from a chosen loopback address (every 127/8 address is this machine). */
function get(url: string, key: string, from: string, agent: http.Agent | false = false): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${key}` }, localAddress: from, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('failed API-key attempts per client address', () => {
  it('a flood of wrong keys gets limits.failed_auth_per_minute 401s, then 429 with Retry-After, right key included; another address is unaffected', async () => {
    const d = await startDrover({ args: ['start', '--port', '0', '--children', '1'], config, env: { DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2' } });
    const url = d.url('/v1/tasks');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8, localAddress: '127.0.0.1' } as http.AgentOptions);
    const answers = await Promise.all(Array.from({ length: 300 }, () => get(url, randomBytes(24).toString('hex'), '127.0.0.1', agent)));
    agent.destroy();
    const count = (status: number) => answers.filter((a) => a.status === status).length;
    // The default bucket is 30; a few more may refill while the flood runs.
    expect(count(401)).toBeGreaterThanOrEqual(30);
    expect(count(401)).toBeLessThanOrEqual(40);
    expect(count(429)).toBe(300 - count(401));

    const refused = await get(url, KEY, '127.0.0.1');
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toEqual({ error: { code: 'AUTH_RATE_LIMITED', message: expect.stringContaining('failed_auth_per_minute = 30') } });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);

    expect((await get(url, KEY, '127.0.0.2')).status).toBe(200);
    expect((await get(url, 'wrong', '127.0.0.2')).status).toBe(401);
    await d.stop();
  });
});
