// Cancel notices on Redis: cancel.lua PUBLISHes the id of every running task asked to cancel
// on one channel, and each handle subscribes to it on a connection of its own (a subscribed
// connection can do nothing else). The subscription is made when the store opens, not with
// the first listener: a listener added after open then hears every cancel made after it,
// with no SUBSCRIBE still on its way (every child watches anyway, so it costs nothing extra).
// A notice missed while the connection is down is not replayed: notices are hints, and the
// worker's next renew answers `cancelling` anyway.
import type { RedisClient } from './connect.ts';
import type { Unsubscribe } from '../types.ts';

export class RedisCancelWatch {
  private readonly channel: string;
  private readonly listeners = new Set<(taskId: string) => void>();
  private readonly conn: RedisClient;

  constructor(conn: RedisClient, channel: string) {
    this.channel = channel;
    this.conn = conn;
    conn.on('error', () => undefined); // ioredis reconnects and subscribes again by itself
    conn.on('message', (from: string, taskId: string) => {
      if (from !== this.channel) return;
      for (const l of [...this.listeners]) l(taskId);
    });
  }

  /** Resolves once the channel is subscribed. */
  async start(): Promise<void> {
    await this.conn.subscribe(this.channel);
  }

  watch(listener: (taskId: string) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): void {
    this.listeners.clear();
    this.conn.disconnect();
  }
}
