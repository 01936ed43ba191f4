import { describe, expect, it } from 'vitest';
import { ClipboardGuard, noClipboard, type Clipboard } from '../../electron/custody/clipboard';

/** A recording clipboard stand-in (the real one exists only inside Electron): keeps the text and every call. */
class RecordingClipboardStandIn implements Clipboard {
  readonly kind = 'recording-stand-in';
  text = '';
  readonly calls: string[] = [];
  async writeText(text: string): Promise<void> {
    this.calls.push('write');
    this.text = text;
  }
  async readText(): Promise<string> {
    this.calls.push('read');
    return this.text;
  }
  async clear(): Promise<void> {
    this.calls.push('clear');
    this.text = '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('clipboard auto-clear (recording clipboard stand-in)', () => {
  it('clears the copied secret after the given seconds', async () => {
    const board = new RecordingClipboardStandIn();
    const guard = new ClipboardGuard(board);
    const clearsAt = await guard.copy('s3cret-Passw0rd!', 1, 1_000);
    expect(clearsAt).toBe(2_000);
    expect(board.text).toBe('s3cret-Passw0rd!');
    await sleep(400);
    expect(board.text).toBe('s3cret-Passw0rd!');
    await sleep(900);
    expect(board.text).toBe('');
    expect(board.calls).toEqual(['write', 'read', 'clear']);
    expect(guard.pendingCount).toBe(0);
  });

  it('leaves the clipboard alone when the person copied something else meanwhile', async () => {
    const board = new RecordingClipboardStandIn();
    const guard = new ClipboardGuard(board);
    await guard.copy('s3cret-Passw0rd!', 1, 0);
    board.text = 'something the person copied';
    await sleep(1_200);
    expect(board.text).toBe('something the person copied');
    expect(board.calls).not.toContain('clear');
  });

  it('flush clears pending copies at once (app quit), still only if the clipboard holds them', async () => {
    const board = new RecordingClipboardStandIn();
    const guard = new ClipboardGuard(board);
    await guard.copy('first-secret-1', 60, 0);
    await guard.copy('second-secret-2', 60, 0);
    expect(guard.pendingCount).toBe(2);
    await guard.flush();
    expect(board.text).toBe('');
    expect(guard.pendingCount).toBe(0);
  });
});

describe('no clipboard outside Electron', () => {
  it('the preview and the CLI get the none clipboard, and it says to use reveal', async () => {
    const board = noClipboard;
    const guard = new ClipboardGuard(board);
    expect(() => guard.requireAvailable()).toThrow(/desktop app only; use reveal/);
    await expect(board.writeText('x')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });
});
