/**
 * The preload: exposes `window.halfkey`, one method per API channel, and nothing else (STYLE
 * rule 2). ipcRenderer and the IPC event never cross into the page; each method passes the
 * request to main and returns only the result. Bundled to one sandbox-compatible file.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { HalfkeyApi } from '../../shared/api/bridge';
import { CHANNEL_NAMES, methodName, type Channel } from '../../shared/api/contract';
import { fail, type ApiResult } from '../../shared/api/result';

/** Sends one request on a channel and resolves to the main process's result, nothing more. */
export type Invoke = (channel: Channel, request: unknown) => Promise<unknown>;

/** Builds the frozen window.halfkey object over an invoke function. */
export function buildHalfkeyApi(invoke: Invoke): HalfkeyApi {
  const api: Record<string, (request: unknown) => Promise<ApiResult<unknown>>> = {};
  for (const channel of CHANNEL_NAMES) {
    api[methodName(channel)] = async (request) => {
      try {
        // Exactly one argument crosses: the request. Whatever main resolves is the result.
        return (await invoke(channel, request)) as ApiResult<unknown>;
      } catch {
        // Main's router never throws; a rejection means the IPC link itself failed.
        return fail('INTERNAL', `${channel} could not reach the Halfkey main process; restart Halfkey.`);
      }
    };
  }
  // The contract and methodName() define both sides; the preload test checks names match HalfkeyApi.
  return Object.freeze(api) as unknown as HalfkeyApi;
}

contextBridge.exposeInMainWorld(
  'halfkey',
  buildHalfkeyApi((channel, request) => ipcRenderer.invoke(channel, request)),
);
