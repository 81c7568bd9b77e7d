export {
  createFerryClient,
  type ActionResult, type FerryClient, type FerryClientOptions, type FerryMetadata, type FerryRecord,
  type RecordAction, type RecordIterator, type RecordsPage, type RecordsQuery, type SyncTriggerResult,
  type SyncVariant, type SyncVariantArgs,
} from './client.ts';
export { FerryApiError, isFerryApiError, type FerryErrorIssue } from './errors.ts';
export { verifyWebhook, WebhookVerificationError, type VerifyWebhookOptions } from './webhooks.ts';
export type { FerryWebhookEvent } from './webhook-events.ts';
