// Cancel notices: a worker hears at once that a task it runs was cancelled, whichever process
// (or machine) took the cancel, instead of at its next lease renewal.
import { describe, expect, it } from 'vitest';
import { eventually, req, type Setup } from './harness.ts';

export function cancelTests(setup: Setup): void {
  describe('cancel notices', () => {
    it('tells a watcher on another handle of a running task being cancelled, within a second, once', async () => {
      const { store, peer } = await setup();
      const worker = await peer();
      const heard: string[] = [];
      const stop = worker.onCancel((id) => heard.push(id));
      const running = (await store.enqueue(req())).task;
      await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      const queued = (await store.enqueue(req())).task;
      const started = Date.now();
      expect((await store.cancel('acme', running.id))?.status).toBe('cancelling');
      expect((await store.cancel('acme', queued.id))?.status).toBe('cancelled');
      await eventually(() => expect(heard).toContain(running.id), 1000);
      expect(Date.now() - started).toBeLessThan(1000);
      // A second cancel changes nothing, so it says nothing; a queued task has nobody to tell.
      await store.cancel('acme', running.id);
      await new Promise((r) => setTimeout(r, 300));
      expect(heard).toEqual([running.id]);
      stop();
    });

    it('tells the handle that took the cancel too, and stops telling once unsubscribed', async () => {
      const { store } = await setup();
      const heard: string[] = [];
      const stop = store.onCancel((id) => heard.push(id));
      const [a, b] = [(await store.enqueue(req())).task, (await store.enqueue(req())).task];
      await store.claim({ worker: 'w1', n: 2, leaseMs: 60_000 });
      await store.cancel('acme', a.id);
      await eventually(() => expect(heard).toEqual([a.id]), 1000);
      stop();
      await store.cancel('acme', b.id);
      await new Promise((r) => setTimeout(r, 300));
      expect(heard).toEqual([a.id]);
    });
  });
}
