/** This CLI's package version and the dependency ranges it was built with: `--version`, and what `ferry init` writes. */
import { readFileSync } from 'node:fs';

// cli/package.json in the repository; the published package.json beside dist/version.js when installed.
const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string; dependencies: Record<string, string> };

export const FERRY_VERSION = manifest.version;
/** The zod a scripts project gets: the one the SDK's bundling and type-checking were built against. */
export const ZOD_RANGE = manifest.dependencies['zod'] ?? 'latest';
