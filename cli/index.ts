/** The CLI's programmatic surface (the host's `npm start` demo deploys through it). */
export { BUNDLE_GLOBAL_NAME, BundleError, bundleScript, type Bundle, type BundleErrorCode } from './bundle.ts';
export { discoverScripts, type DiscoveredScript, type ScriptKind } from './discover.ts';
export { DeployError, DeployResponseSchema, deployScripts, type DeployOptions, type DeployProgress, type DeployResponse } from './deploy.ts';
export { DryRunError, dryRun, type DryRunOptions, type DryRunResult } from './dryrun.ts';
export { DEFAULT_HOST_URL, HostApiError } from './host-client.ts';
