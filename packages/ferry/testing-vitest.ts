/** `ferry/testing/vitest`: the vitest plugin that runs a Nango project's tests unmodified (the same module as `@ferry/testing/vitest`). */
export * from '@ferry/testing/vitest';
