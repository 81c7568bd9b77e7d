/**
 * Sync variants: one deployed sync running as several independent copies on one connection (a
 * mailbox, a repo, a region). A variant has its own sync_state row (schedule, lastSyncDate,
 * checkpoint, retries) and its own records: they are stored under the model name
 * `<model>::<variant>`, so each variant is a separate cursor stream and delete detection, held
 * deletes and the store treat it as a model of its own. The default variant 'base' keeps the
 * plain model name, so everything written before variants existed stays where it was.
 */
import { z } from 'zod';

export const BASE_VARIANT = 'base';
const SEPARATOR = '::';

/** What a variant may be called: short, URL- and log-safe, never containing the separator. */
export const VariantName = z.string().min(1).max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]*$/, 'a variant is letters, digits, "_", ".", "@" and "-", starting with a letter or digit');

/** A declared model name may not contain the separator (refused at deploy). */
export const isPlainModelName = (model: string): boolean => !model.includes(SEPARATOR);

/** The model name a variant's records, seen ids and held deletes are stored under. */
export function storedModel(model: string, variant: string): string {
  return variant === BASE_VARIANT ? model : `${model}${SEPARATOR}${variant}`;
}

/** The declared model a stored model name belongs to, and its variant. */
export function splitStoredModel(stored: string): { model: string; variant: string } {
  const at = stored.indexOf(SEPARATOR);
  return at < 0 ? { model: stored, variant: BASE_VARIANT } : { model: stored.slice(0, at), variant: stored.slice(at + SEPARATOR.length) };
}
