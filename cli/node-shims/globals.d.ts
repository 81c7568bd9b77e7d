/**
 * The Node-shaped globals `ferry compile` lets a script use because the bundler gives them to the
 * script itself (cli/node-shims.ts): `Buffer`, the `buffer` package's.
 */
export {};

declare global {
  var Buffer: typeof import('buffer').Buffer;
  type Buffer = import('buffer').Buffer;
}
