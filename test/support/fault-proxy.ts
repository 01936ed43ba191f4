import net from 'node:net';

/**
 * A FAULT INJECTOR: a loopback TCP proxy in front of a real server that can refuse connections,
 * stall them, cut a response short after the request got through (the server committed, the
 * client never hears), or hold the first connection's request back for a while so requests on
 * later connections overtake it (reordering, as several server processes behind a load balancer
 * can). Used because a real network partition cannot be caused on loopback.
 */
export type FaultMode = 'pass' | 'refuse' | 'stall' | 'cut-response' | 'hold-first';

/** How long 'hold-first' keeps the first connection's request from the server. */
const HOLD_MS = 250;

export class FaultProxy {
  private mode: FaultMode = 'pass';
  private held = false;
  /** Status lines of the answers that went through ("HTTP/1.1 409 Conflict"), oldest first. */
  readonly statuses: string[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;
  port = 0;

  constructor(private readonly upstreamPort: number) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Switches the fault; open connections are dropped so pooled keep-alive sockets see it too,
   * and the switch settles briefly so the client's pool notices the closes before reuse.
   */
  async set(mode: FaultMode): Promise<void> {
    this.mode = mode;
    this.held = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise((r) => setTimeout(r, 25));
  }

  async close(): Promise<void> {
    await this.set('refuse');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(client: net.Socket): void {
    this.track(client);
    const mode = this.mode;
    if (mode === 'refuse') {
      client.destroy();
      return;
    }
    if (mode === 'stall') return; // read nothing, answer nothing
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    this.track(upstream);
    if (mode === 'hold-first' && !this.held) {
      // The client's bytes wait in its socket until the hold ends.
      this.held = true;
      setTimeout(() => client.pipe(upstream), HOLD_MS);
    } else {
      client.pipe(upstream);
    }
    if (mode === 'pass' || mode === 'hold-first') {
      upstream.on('data', (chunk: Buffer) => {
        const line = chunk.subarray(0, 64).toString('latin1').split('\r\n')[0]!;
        if (line.startsWith('HTTP/1.1 ')) this.statuses.push(line);
      });
      upstream.pipe(client);
      return;
    }
    // cut-response: the request reaches the server; the first bytes of its answer kill the connection.
    upstream.once('data', () => {
      client.destroy();
      upstream.destroy();
    });
  }
}
