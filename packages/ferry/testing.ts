/** `ferry/testing`: run a script in the real runtime from its tests (the same module as `@ferry/testing`). */
export * from '@ferry/testing';
