/** Creates a contact in the demo CRM and returns it as the CRM stored it. */
import { ActionError, createAction } from 'ferry/sdk';
// A Nango script compiles unchanged: the bundler maps 'nango' to the same SDK.
// import { ActionError, createAction } from 'nango';
import { ContactSchema, NewContactSchema, type Contact } from '../models.ts';

export default createAction({
  description: 'Create a contact in the demo CRM',
  version: '1.0.0',
  endpoint: { method: 'POST', path: '/contacts', group: 'Contacts' },
  input: NewContactSchema,
  output: ContactSchema,
  exec: async (nango, input) => {
    const response = await nango.post<{ data: Contact } | { error: { code: string; message: string } }>({
      endpoint: '/v1/contacts',
      data: input,
      retries: 0,
    });
    if (response.status >= 400 || !('data' in response.data)) {
      const error = 'error' in response.data ? response.data.error : { code: 'unknown', message: `HTTP ${response.status}` };
      throw new ActionError({ type: 'provider_rejected', message: error.message, code: error.code, status: response.status });
    }
    return response.data.data;
  },
});
