/**
 * A connection's metadata is one store that scripts (setMetadata/updateMetadata) and the HTTP API
 * both write, so both are held to one cap, CAPS.stateBytes: the API used to take up to its 8 MiB
 * body limit, metadata a script could then not write back.
 */
import { CAPS } from '@ferry/runtime/caps';
import { z } from 'zod';

/** Bytes of `metadata` as the JSON text that is stored. */
export const metadataBytes = (metadata: unknown): number => Buffer.byteLength(JSON.stringify(metadata) ?? '');

export const overMetadataCap = (bytes: number) => `metadata is ${bytes} bytes as JSON, over the ${CAPS.stateBytes}-byte cap on a connection's metadata`;

/** An object of metadata within the cap; over it, the 400 names the field. */
export const MetadataObjectSchema = z.record(z.string(), z.unknown()).superRefine((metadata, ctx) => {
  const bytes = metadataBytes(metadata);
  if (bytes > CAPS.stateBytes) ctx.addIssue({ code: 'custom', message: overMetadataCap(bytes) });
});

/** Thrown when merged metadata would be over the cap: PAYLOAD_TOO_LARGE to a script, a 413 to the API. */
export class MetadataTooLargeError extends Error {
  readonly code = 'PAYLOAD_TOO_LARGE';
  constructor(bytes: number) {
    super(overMetadataCap(bytes));
    this.name = 'MetadataTooLargeError';
  }
}
