import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../build/halfkey.mjs', import.meta.url));

/** `halfkey server` as a real child process, so a test can SIGKILL it mid-batch. */
export class ServerProcess {
  private child: ChildProcess | null = null;

  constructor(private readonly args: { readonly db: string; readonly port: number; readonly keyFile: string }) {}

  /** Starts the server and resolves once it listens. */
  async start(): Promise<void> {
    // As an operator does once: a server on PostgreSQL loads its key file and never makes one.
    if (!existsSync(this.args.keyFile))
      execFileSync(process.execPath, [CLI, 'server', 'keygen', '--key-file', this.args.keyFile], { stdio: 'ignore' });
    const child = spawn(
      process.execPath,
      [CLI, 'server', '--db', this.args.db, '--listen', `127.0.0.1:${this.args.port}`, '--key-file', this.args.keyFile],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 30_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        if (err.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}: ${err}`));
      });
    });
  }

  /** SIGKILL: no shutdown hooks, no flush; whatever was committed is all that survives. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** SIGTERM: the server closes cleanly. */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
    this.child = null;
  }
}

/** A free loopback port (bound and released). */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
