// The socket handles that travel with some messages, as libuv hands them to JavaScript (node's
// TCPWrap): the part drover uses. node:cluster passes listening sockets around this way in
// SCHED_NONE mode; a handle sent over IPC arrives as a copy of the same kernel socket.
import type net from 'node:net';

export interface ListenHandle {
  onconnection: ((status: number, client?: ClientHandle) => void) | null;
  listen(backlog: number): number;
  close(cb?: () => void): void;
}

/** An accepted connection before any net.Socket wraps it. */
export interface ClientHandle {
  setNoDelay?(on: boolean): number;
  close(cb?: () => void): void;
}

/**
 * Takes the connection away from a net.Socket, to hand it to another process (node's own
 * child_process does the same): reading stops first, so bytes that arrive from now on stay in
 * the kernel for the next owner; then the socket lets go of the handle (so destroying it does
 * not close the connection) and its close frees what it held (an HTTP parser, a load count).
 */
export function detachHandle(socket: net.Socket): ClientHandle | undefined {
  const s = socket as unknown as { _handle: (ClientHandle & { readStop(): number }) | null };
  const handle = s._handle;
  if (!handle) return undefined;
  handle.readStop();
  s._handle = null;
  socket.destroy();
  return handle;
}
