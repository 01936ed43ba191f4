import { HalfkeyError } from '../../shared/api/result';

/** The system clipboard as custody needs it; the Electron main process provides the real one. */
export interface Clipboard {
  /** Where the text goes, for status and error messages (`electron`, `none`). */
  readonly kind: string;
  writeText(text: string): Promise<void>;
  readText(): Promise<string>;
  clear(): Promise<void>;
}

const UNAVAILABLE = 'Copy to the clipboard is available in the desktop app only; use reveal instead.';

/** The clipboard of the preview and the CLI: there is none, and every call says so. */
export const noClipboard: Clipboard = {
  kind: 'none',
  writeText: () => Promise.reject(new HalfkeyError('UNSUPPORTED', UNAVAILABLE)),
  readText: () => Promise.reject(new HalfkeyError('UNSUPPORTED', UNAVAILABLE)),
  clear: () => Promise.reject(new HalfkeyError('UNSUPPORTED', UNAVAILABLE)),
};

/**
 * Puts a secret on the clipboard and takes it off again after a while, but only if the
 * clipboard still holds it: whatever the person copied since is theirs and stays.
 */
export class ClipboardGuard {
  private readonly pending = new Map<ReturnType<typeof setTimeout>, string>();

  constructor(readonly clipboard: Clipboard) {}

  /** Fails fast, before anything is journaled, where there is no clipboard. */
  requireAvailable(): void {
    if (this.clipboard.kind === 'none') throw new HalfkeyError('UNSUPPORTED', UNAVAILABLE);
  }

  /** Copies `text` and schedules its removal in `seconds`; returns when that will be (ms since epoch). */
  async copy(text: string, seconds: number, now: number): Promise<number> {
    await this.clipboard.writeText(text);
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      void this.clearIfStill(text);
    }, seconds * 1000);
    timer.unref();
    this.pending.set(timer, text);
    return now + seconds * 1000;
  }

  /** Clears every pending copy now (app quit, vault lock), again only where the clipboard still holds it. */
  async flush(): Promise<void> {
    const texts = [...this.pending.entries()];
    this.pending.clear();
    for (const [timer, text] of texts) {
      clearTimeout(timer);
      await this.clearIfStill(text);
    }
  }

  /** How many copies are waiting to be cleared. */
  get pendingCount(): number {
    return this.pending.size;
  }

  private async clearIfStill(text: string): Promise<void> {
    try {
      if ((await this.clipboard.readText()) === text) await this.clipboard.clear();
    } catch {
      // The clipboard went away (app quitting); there is nothing left to clear.
    }
  }
}
