/**
 * Lets scripts here import 'ferry/sdk' as a user's project would (package self-reference through
 * scripts/package.json), so `tsc` and Node resolve it without a tsconfig `paths` entry. The
 * bundler aliases 'ferry/sdk' and 'nango' to sdk/index.ts directly and never reads this file.
 */
export * from '../sdk/index.ts';
