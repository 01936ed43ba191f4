// Worker bootstrap: registers the TypeScript loader, then runs verify-worker.ts. Kept in plain
// JavaScript because a worker thread does not inherit the parent's loader hooks.
import { register } from 'tsx/esm/api';

register();
await import('./verify-worker.ts');
