/**
 * Limits of the HTTP API that its clients plan around (`ferry dryrun` sizes its POST
 * /records/unseen by them), in a module with no server code so the CLI can import it.
 */
import { CAPS } from '@ferry/runtime/caps';
import { z } from 'zod';

export const API_LIMITS = {
  /** A request body; over it, a 413 before it is parsed. */
  bodyBytes: 8 * 1024 * 1024,
  /** Ids one POST /records/unseen weighs; a walk that saw more is weighed page by page over GET /records. */
  seenIds: 100_000,
  /** Unseen ids one POST /records/unseen lists (its count is exact beyond them). */
  unseenIds: 10_000,
} as const;

/** A record id as a reader names it: what a script may save (runtime/worker/records.ts), no more. */
export const RecordIdSchema = z.string()
  .min(1, 'a record id is not empty')
  .refine((id) => id.length <= CAPS.recordIdBytes || Buffer.byteLength(id) <= CAPS.recordIdBytes, `over the ${CAPS.recordIdBytes}-byte cap on a record id`);
