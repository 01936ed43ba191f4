import { clipboard } from 'electron';
import type { Clipboard } from '../custody/clipboard';

/** Electron's clipboard, injected into custody by the main process (Node-only code never imports electron). */
export const electronClipboard: Clipboard = {
  kind: 'electron',
  writeText: async (text) => clipboard.writeText(text),
  readText: async () => clipboard.readText(),
  clear: async () => clipboard.clear(),
};
