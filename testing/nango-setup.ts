/**
 * The setup file the Ferry vitest plugin adds: what a Nango project's own `vitest.setup.ts`
 * does (Nango's mocks on `globalThis.vitest`, where the generated tests look for them), and the
 * test file's runtime worker stopped once its tests are done.
 */
import { afterAll } from 'vitest';
import { NangoActionMock, NangoSyncMock } from './nango-mock.ts';
import { closeNangoScripts } from './nango-script.ts';

(globalThis as { vitest?: unknown }).vitest = { NangoActionMock, NangoSyncMock };

afterAll(closeNangoScripts);
