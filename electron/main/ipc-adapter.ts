import { CHANNEL_NAMES } from '../../shared/api/contract';
import { fail, type ApiResult } from '../../shared/api/result';
import type { ApiRouter } from '../app/router';
import { isAppUrl } from './security';

/** The parts of Electron's WebFrameMain the sender check reads. */
export interface SenderFrame {
  readonly url: string;
  readonly parent: SenderFrame | null;
}

/** The parts of Electron's IpcMainInvokeEvent the adapter reads; nothing else of it is used. */
export interface SenderEvent {
  readonly senderFrame: SenderFrame | null;
}

/** The part of Electron's ipcMain the adapter needs, so it can be tested without Electron. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: SenderEvent, ...args: unknown[]) => Promise<ApiResult<unknown>>): void;
}

/** Logs a refused sender; carries the channel and why, never the payload. */
export type SenderRefusalLog = (event: { readonly channel: string; readonly reason: string }) => void;

/** Why a sender is refused, or null when it is the app's own top frame. */
function refusalReason(frame: SenderFrame | null): string | null {
  if (frame === null) return 'the sending frame is gone (navigated away or destroyed)';
  if (frame.parent !== null) return 'the sender is a sub-frame, not the top frame';
  if (!isAppUrl(frame.url)) return 'the sender is not on the app origin';
  return null;
}

/**
 * The Electron adapter (STYLE rule 4): one `ipcMain.handle` per channel of the contract. Each
 * call first checks the sender frame (present, top frame, app origin) and refuses with
 * FORBIDDEN_SENDER otherwise; only then does the router see the channel and payload. The IPC
 * event object stays here: it never reaches the router or the page.
 */
export function mountIpcAdapter(ipcMain: IpcMainLike, router: ApiRouter, log: SenderRefusalLog = () => {}): void {
  for (const channel of CHANNEL_NAMES) {
    ipcMain.handle(channel, async (event, payload) => {
      const reason = refusalReason(event.senderFrame);
      if (reason !== null) {
        log({ channel, reason });
        return fail('FORBIDDEN_SENDER', `Refused ${channel}: ${reason}. Only the Halfkey window may call the API.`);
      }
      return router.call(channel, payload, { adapter: 'electron' });
    });
  }
}
