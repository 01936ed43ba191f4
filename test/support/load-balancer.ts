import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the balancer forwarded: to which upstream, and what came back. */
export interface Forwarded {
  readonly upstream: number;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The `error.code` of a refusal, null for a success. */
  readonly code: string | null;
}

/**
 * A round-robin HTTP load balancer on loopback in front of several real server processes, as
 * docs/operations.md deploys them: each request (not each connection: the client keeps its
 * connections alive) goes to the next upstream. `hold` delays one request so the next one,
 * sent to the other process, overtakes it.
 */
export class RoundRobinBalancer {
  /** Every answered request, in the order the answers came back. */
  readonly forwarded: Forwarded[] = [];
  private next = 0;
  private holdMs = 0;
  private readonly server: http.Server;

  constructor(private readonly upstreams: readonly string[]) {
    this.server = http.createServer((req, res) => this.forward(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next request waits this long before it is forwarded (once). */
  hold(ms: number): void {
    this.holdMs = ms;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const upstream = this.next;
    this.next = (this.next + 1) % this.upstreams.length;
    const delay = this.holdMs;
    this.holdMs = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // Hop-by-hop headers stay here; the signed x-halfkey-* headers and the content type pass unchanged.
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'connection' && k !== 'keep-alive' && k !== 'content-length'),
      );
      setTimeout(() => {
        const out = http.request(
          new URL(req.url ?? '/', this.upstreams[upstream]),
          { method: req.method, headers: { ...headers, 'content-length': String(body.length) } },
          (answer) => {
            const parts: Buffer[] = [];
            answer.on('data', (c: Buffer) => parts.push(c));
            answer.on('end', () => {
              const text = Buffer.concat(parts);
              const status = answer.statusCode ?? 502;
              let code: string | null = null;
              if (status >= 300) {
                try {
                  code = (JSON.parse(text.toString('utf8')) as { error?: { code?: string } }).error?.code ?? null;
                } catch {
                  code = null;
                }
              }
              this.forwarded.push({ upstream, method: req.method ?? '', path: req.url ?? '', status, code });
              res.writeHead(status, { 'content-type': answer.headers['content-type'] ?? 'application/json' }).end(text);
            });
          },
        );
        out.on('error', () => res.writeHead(502).end());
        out.end(body);
      }, delay);
    });
  }
}
