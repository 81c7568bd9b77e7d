/**
 * Injected into every bundle (cli/node-shims.ts): a script that names the global `Buffer`, as
 * Nango's runner gives it one, gets the `buffer` package's (Node's API in pure JavaScript) in its
 * bundle. One that never names it carries none of it.
 */
export { Buffer } from 'buffer';
