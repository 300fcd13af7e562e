// Cancel notices on Redis: cancel.lua PUBLISHes the id of every running task asked to cancel
// on one channel, and each handle with listeners subscribes to it on a connection of its own
// (a subscribed connection can do nothing else), opened with the first listener and closed
// with the last. A notice missed while the connection is down is not replayed: notices are
// hints, and the worker's next renew answers `cancelling` anyway.
import type { Redis } from 'ioredis';
import type { Unsubscribe } from '../types.ts';

export class RedisCancelWatch {
  private readonly connect: () => Redis;
  private readonly channel: string;
  private readonly listeners = new Set<(taskId: string) => void>();
  private conn: Redis | null = null;

  constructor(connect: () => Redis, channel: string) {
    this.connect = connect;
    this.channel = channel;
  }

  watch(listener: (taskId: string) => void): Unsubscribe {
    if (!this.conn) {
      const conn = this.connect();
      conn.on('error', () => undefined); // ioredis reconnects and subscribes again by itself
      conn.on('message', (channel: string, taskId: string) => {
        if (channel !== this.channel) return;
        for (const l of [...this.listeners]) l(taskId);
      });
      conn.subscribe(this.channel).catch(() => undefined);
      this.conn = conn;
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  close(): void {
    this.listeners.clear();
    this.conn?.disconnect();
    this.conn = null;
  }
}
