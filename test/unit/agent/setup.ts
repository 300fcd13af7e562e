// Shared by the agent tests: a real mock provider on loopback and a client pointed at it.
import { defaultConfig } from '../../../src/config/defaults.ts';
import type { ProviderConfig } from '../../../src/config/schema.ts';
import { createLlmClient, type LlmClientOptions, type ManagedLlmClient } from '../../../src/agent/llm/client.ts';
import { startMockLlm, type MockLlm, type MockLlmOptions } from '../../../src/agent/mock-llm.ts';

export interface Rig {
  mock: MockLlm;
  llm: ManagedLlmClient;
  close(): Promise<void>;
}

/** The mock provider's config defaults with `overrides`; retries back off in milliseconds, not seconds. */
export async function rig(
  overrides: Partial<ProviderConfig> = {},
  mockOpts: MockLlmOptions = {},
  clientOpts: Partial<LlmClientOptions> = {},
): Promise<Rig> {
  const mock = await startMockLlm(mockOpts);
  const cfg: ProviderConfig = { ...defaultConfig().llm.providers.mock!, base_url: mock.url, ...overrides };
  const llm = createLlmClient({ mock: cfg }, 'mock', { env: {}, backoff: { baseMs: 10, maxMs: 50 }, ...clientOpts });
  return {
    mock,
    llm,
    async close() {
      await mock.close(); // first, so requests still waiting at the mock end and the pool can close
      await llm.close();
    },
  };
}

export const ask = (content: string) => ({ messages: [{ role: 'user' as const, content }] });

/** Resolves with the rejection of `p`, failing if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}
