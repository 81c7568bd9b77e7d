/** The demo CRM: a real HTTP provider for tests, benchmarks and the `npm start` demo. */
export { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, startDemoProvider, type Contact, type DemoProvider, type DemoProviderOptions, type RequestLogEntry } from './provider.ts';
