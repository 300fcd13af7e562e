// The thread's side of its store calls (ctx.tool, ctx.progress). The calls of one turn go in one
// message. Where the child's store writes on a thread of its own (Store.connectPort), they go
// straight there over a channel this thread opens at start, and the answers come back on it;
// elsewhere (the Redis store) they go up the parentPort to the main thread (piscina hands them
// to the pool as a 'message' event), and the answers come back on this thread's own
// BroadcastChannel, those of one turn of the main thread in one message. Either way the way
// back is open before the first call, so no answer can be missed.
import { BroadcastChannel, MessageChannel, parentPort, threadId, type MessagePort } from 'node:worker_threads';
import type { PortAnswer, PortCall } from '../store/types.ts';
import { TurnBatch } from '../store/turn-batch.ts';
import { ExecutorError } from './errors.ts';
import { replyChannel, type RpcCall, type RpcReply, type RpcRequests, type StorePortOffer } from './protocol.ts';

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

type Sent = RpcCall & { id: number };

export class ThreadRpc {
  private readonly waiting = new Map<number, Waiter>();
  private next = 0;
  private readonly outbox: TurnBatch<Sent>;
  /** Why calls can no longer be answered (the store's thread ended), once it happened. */
  private gone: string | null = null;

  constructor(opts: { storePort: boolean }) {
    if (!parentPort) throw new Error('ThreadRpc runs only in a worker thread');
    const up = parentPort;
    // Pending answers must not keep a thread alive; piscina's own port does that while it works.
    if (opts.storePort) {
      const { port1, port2 } = new MessageChannel();
      up.postMessage({ storePort: 'drover', thread: threadId, port: port2 } satisfies StorePortOffer, [port2]);
      port1.on('message', (answers: PortAnswer[]) => {
        for (const a of answers) this.answer(a);
      });
      port1.on('close', () => this.end('the store closed its channel to this thread'));
      port1.unref();
      this.outbox = new TurnBatch<Sent>((calls) => sendOver(port1, calls));
    } else {
      const channel = new BroadcastChannel(replyChannel(threadId));
      channel.unref();
      channel.onmessage = (e: MessageEvent) => {
        for (const reply of e.data as RpcReply[]) this.answer(reply);
      };
      this.outbox = new TurnBatch<Sent>((calls) => up.postMessage({ rpc: 'drover', thread: threadId, calls } satisfies RpcRequests));
    }
  }

  call(call: RpcCall): Promise<unknown> {
    if (this.gone) return Promise.reject(new ExecutorError('STORE_FAILED', this.gone, true));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.outbox.add({ ...call, id });
    });
  }

  private answer(reply: RpcReply | PortAnswer): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.value);
    // A store failure is worth another attempt: the store may be busy, not broken.
    else waiter.reject(new ExecutorError(reply.error.code ?? 'STORE_ERROR', reply.error.message, true));
  }

  private end(why: string): void {
    this.gone = why;
    for (const w of this.waiting.values()) w.reject(new ExecutorError('STORE_FAILED', why, true));
    this.waiting.clear();
  }
}

function sendOver(port: MessagePort, calls: Sent[]): void {
  port.postMessage(calls.map((c): PortCall => ({ id: c.id, name: c.op, args: c.args })));
}
