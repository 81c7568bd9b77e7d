/** The CLI's programmatic surface: `main` (the `ferry` command), bundling, deploy, dryrun, and what `@ferry/testing` builds on. */
export { BUNDLE_GLOBAL_NAME, BundleError, bundleScript, type Bundle, type BundleErrorCode } from './bundle.ts';
export { discoverScripts, type DiscoveredScript, type ScriptKind } from './discover.ts';
export { DeployError, DeployResponseSchema, deployScripts, type DeployOptions, type DeployProgress, type DeployResponse } from './deploy.ts';
export { DryRunError, dryRun, type DryRunOptions, type DryRunResult } from './dryrun.ts';
export { DEFAULT_HOST_URL, HostApiError } from './host-client.ts';
export { createCollectingBridge } from './collect.ts';
export { FixtureMismatchError, readFixture, replayProxy, type Fixture, type ProxyFn, type RecordedExchange } from './fixtures.ts';
export { main } from './bin.ts';
