import { registerCommand } from './main';

// One line per top-level command. Modules are loaded only when their command runs.
registerCommand('journal', 'verify or export the signed journal', () => import('./journal'));
