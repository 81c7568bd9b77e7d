/**
 * A whole host whose connection `c1` reads a demo CRM of its own (token `k`): the set-up of the
 * tests that run fixture scripts against the host's guarantees (limits, the sandbox, record
 * writes). The scripts are deployed before the connection is made, so its syncs start at once.
 */
import { startDemoProvider } from '../../demo/provider.ts';
import { startTestFerry, type TestFerry } from './ferry.ts';

export interface DemoCrmHost {
  ferry: TestFerry;
  /** Closes the host, then the CRM. */
  close(): Promise<void>;
}

export async function startDemoCrmHost(contacts: number, deploy: (ferry: TestFerry) => Promise<unknown>): Promise<DemoCrmHost> {
  const provider = await startDemoProvider({ apiKey: 'k', contacts });
  const ferry = await startTestFerry().catch(async (error: unknown) => {
    await provider.close();
    throw error;
  });
  const close = async () => {
    await ferry.close();
    await provider.close();
  };
  try {
    await deploy(ferry);
    await ferry.api.put('/providers/demo', { base_url: provider.url, auth: { type: 'bearer' } });
    await ferry.api.post('/connections', { connection_id: 'c1', provider: 'demo', credentials: { type: 'bearer', token: 'k' } });
  } catch (error) {
    await close();
    throw error;
  }
  return { ferry, close };
}
