/**
 * The review's findings and text limit: plain values, imported by the renderer's acknowledge form.
 * Kept apart from review-wire.ts, whose schemas pull in the receipt and signature code (libsodium):
 * that must never reach the renderer bundle, where the CSP forbids compiling WebAssembly.
 */

/** The reviewer's finding. */
export const REVIEW_FINDINGS = ['authorised', 'unauthorised', 'false-alarm', 'inconclusive'] as const;
export type ReviewFinding = (typeof REVIEW_FINDINGS)[number];

/** Longest free text of a review, in characters. */
export const MAX_REVIEW_TEXT = 4000;
