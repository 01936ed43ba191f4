import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A FAULT INJECTOR, named as a stand-in: a loopback HTTP proxy in front of a real server that
 * passes every request through and, while a rewrite is set for a path, changes the JSON of the
 * server's answer before the client sees it (a compromised server or a man in the middle). Used
 * because a real server never sends a tampered answer on purpose.
 */
export class TamperProxy {
  private rewrite: { readonly path: string; readonly change: (body: unknown) => unknown } | null = null;
  private readonly server: http.Server;
  /** How many answers were rewritten. */
  rewritten = 0;

  constructor(private readonly upstream: string) {
    this.server = http.createServer((req, res) => void this.forward(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Rewrites the JSON answers of requests whose path (before `?`) is `path`, until cleared. */
  tamper(path: string, change: (body: unknown) => unknown): void {
    this.rewrite = { path, change };
  }

  clear(): void {
    this.rewrite = null;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
    const method = req.method ?? 'GET';
    const answer = await fetch(new URL(req.url ?? '/', this.upstream), {
      method,
      headers,
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: Buffer.concat(chunks) }),
    });
    let body = Buffer.from(await answer.arrayBuffer());
    const rule = this.rewrite;
    if (rule !== null && (req.url ?? '').split('?')[0] === rule.path && answer.status === 200) {
      body = Buffer.from(JSON.stringify(rule.change(JSON.parse(body.toString('utf8')))));
      this.rewritten += 1;
    }
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    res.end(body);
  }
}
