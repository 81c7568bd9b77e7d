/** The limits one run gets: what its script declared, over the runtime's defaults. */
import { LimitsSchema, type Limits, type ScriptManifest } from '@ferry/runtime/contract';

export function runLimits(declared: ScriptManifest['limits']): Limits {
  return LimitsSchema.parse(declared ?? {});
}
