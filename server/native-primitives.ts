import * as nodeCrypto from 'node:crypto';
import { hostPrimitives } from '../shared/journal/host-crypto';

/** The journal's primitives on node:crypto, for the server's signature workers, chain verifier and request checks. */
export const nativePrimitives = hostPrimitives(nodeCrypto);
