/**
 * Bounds of the vault policy's numbers, in seconds (docs/custody.md, "Vault policy"): a lease of
 * 1 min to 7 days, an idle lock of 1 min to 1 h. Pure constants, so the page can check a form
 * without loading the API's schemas.
 */
export const POLICY_LIMITS = {
  maxLeaseSeconds: { min: 60, max: 7 * 24 * 3600 },
  idleLockSeconds: { min: 60, max: 3600 },
} as const;
