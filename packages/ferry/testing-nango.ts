/** `ferry/testing/nango`: Nango's test mocks over Ferry's runtime (the same module as `@ferry/testing/nango`). */
export * from '@ferry/testing/nango';
