import * as nodeCrypto from 'node:crypto';
import { hostPrimitives } from '../../shared/journal/host-crypto';

/** The journal's primitives on node:crypto, for the main process, its verify workers and the sync client. */
export const nativePrimitives = hostPrimitives(nodeCrypto);
