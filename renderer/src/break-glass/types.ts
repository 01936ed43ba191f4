import type { ResponseOf } from '../../../shared/api/contract';

/** A break-glass session as break-glass:list and break-glass:get return it (no secret). */
export type BreakGlassSession = ResponseOf<'break-glass:get'>;
