/**
 * A fixture file `ferry/testing` replays: Ferry's (`ferry dryrun --save`: `version`, `exchanges`)
 * or Nango's (`nango dryrun --save`: `<provider>/tests/<name>.test.json`, with `api` and `nango`),
 * told apart by the keys each format always writes.
 */
import { readFile } from 'node:fs/promises';
import { readFixture, type Fixture } from '@ferry/cli';
import { readNangoFixture, type NangoFixture } from './nango-fixture.ts';

export type TestFixture = Fixture | NangoFixture;

export async function readTestFixture(path: string): Promise<TestFixture> {
  const json = JSON.parse(await readFile(path, 'utf8')) as unknown;
  const keys = json !== null && typeof json === 'object' && !Array.isArray(json) ? Object.keys(json) : [];
  if (keys.includes('exchanges') || keys.includes('version')) return readFixture(path);
  if (keys.includes('api') || keys.includes('nango')) return readNangoFixture(path);
  throw new Error(`${path} is not a fixture: a Ferry fixture (ferry dryrun --save) has "version" and "exchanges", a Nango one (nango dryrun --save) "api" and "nango"`);
}
