// The thread's side of the store RPC: the requests of one turn go up the parentPort in one
// message (piscina hands it to the pool as a 'message' event) and their answers come back on
// this thread's own BroadcastChannel, those of one turn of the main thread in one message. The
// channel is opened before the first request, so no answer can be missed.
import { BroadcastChannel, parentPort, threadId } from 'node:worker_threads';
import { TurnBatch } from '../store/turn-batch.ts';
import { ExecutorError } from './errors.ts';
import { replyChannel, type RpcCall, type RpcReply, type RpcRequests } from './protocol.ts';

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class ThreadRpc {
  private readonly channel = new BroadcastChannel(replyChannel(threadId));
  private readonly waiting = new Map<number, Waiter>();
  private next = 0;
  private readonly outbox = new TurnBatch<RpcRequests['calls'][number]>((calls) => {
    parentPort!.postMessage({ rpc: 'drover', thread: threadId, calls } satisfies RpcRequests);
  });

  constructor() {
    // Pending answers must not keep a thread alive; piscina's own port does that while it works.
    this.channel.unref();
    this.channel.onmessage = (e: MessageEvent) => {
      for (const reply of e.data as RpcReply[]) this.answer(reply);
    };
  }

  call(call: RpcCall): Promise<unknown> {
    if (!parentPort) return Promise.reject(new Error('ThreadRpc runs only in a worker thread'));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.outbox.add({ ...call, id });
    });
  }

  private answer(reply: RpcReply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.value);
    // A store failure is worth another attempt: the store may be busy, not broken.
    else waiter.reject(new ExecutorError(reply.error.code, reply.error.message, true));
  }
}
