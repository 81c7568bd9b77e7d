/**
 * What `import … from 'url'` (or `node:url`) gives a script: the isolate's own WHATWG `URL` and
 * `URLSearchParams` (what Nango scripts import it for; Nango's runner passes both as globals too).
 */
export const URL = globalThis.URL;
export const URLSearchParams = globalThis.URLSearchParams;
export default { URL, URLSearchParams };
