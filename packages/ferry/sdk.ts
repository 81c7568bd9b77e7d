/** `ferry/sdk`: what a script imports (the same module as `@ferry/sdk`). */
export * from '@ferry/sdk';
