import * as nodeCrypto from 'node:crypto';
import { hostPrimitives } from '../shared/journal/host-crypto';

/**
 * The journal's primitives on node:crypto: the one place `node:crypto` is handed to
 * shared/journal/host-crypto.ts. The server uses it (signature workers, chain verifier, request
 * checks, its Merkle log) and so does the desktop side (the journal store's appends, the main
 * process's and the CLI's bundle verification and its worker threads, the sync client).
 *
 * Why here: shared/ may not import node:* and server/ may not import electron/ (eslint.config.js),
 * while electron/ may import server/ (the CLI already starts the server from it). server/ is
 * the one folder both sides may import that also may use Node, so the wiring lives here and
 * electron/ imports it; a folder of its own would need a layer of its own in the lint for one
 * line of code. It imports nothing but node:crypto and shared/, so whatever bundles it (the main
 * process, the verify worker) takes in no server code.
 */
export const nativePrimitives = hostPrimitives(nodeCrypto);
