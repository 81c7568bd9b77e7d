/** Creates a contact in the demo CRM and returns it as the CRM stored it. */
import { ActionError, createAction } from 'ferry/sdk';
// A Nango script compiles unchanged: the bundler maps 'nango' to the same SDK.
// import { ActionError, createAction } from 'nango';
import { ContactSchema, NewContactSchema, type Contact } from '../models.ts';

interface ProviderFailure {
  status?: number;
  data?: { error?: { code?: string; message?: string } };
}

export default createAction({
  description: 'Create a contact in the demo CRM',
  version: '1.0.0',
  endpoint: { method: 'POST', path: '/contacts', group: 'Contacts' },
  input: NewContactSchema,
  output: ContactSchema,
  exec: async (nango, input) => {
    try {
      // retries: 0 — a retried POST could create the contact twice.
      const response = await nango.post<{ data: Contact }>({ endpoint: '/v1/contacts', data: input, retries: 0 });
      return response.data.data;
    } catch (error) {
      // As in Nango, a 4xx/5xx answer rejects with the status and parsed body attached.
      const failure = error as ProviderFailure;
      if (failure.status === undefined) throw error;
      const cause = failure.data?.error;
      throw new ActionError({ type: 'provider_rejected', message: cause?.message ?? `HTTP ${failure.status}`, code: cause?.code ?? 'unknown', status: failure.status });
    }
  },
});
