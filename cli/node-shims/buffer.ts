/**
 * What `import … from 'buffer'` (or `node:buffer`) and the `Buffer` global give a script: the
 * `buffer` package (Node's API in pure JavaScript), taught Node's `base64url` encoding, which the
 * package predates and OAuth and JWT code relies on (`Buffer.from(part, 'base64url')`,
 * `toString('base64url')`). The package's base64 decoder already reads the URL-safe alphabet
 * with or without padding, as Node's does, so decoding is base64's; encoding trades `+/` for
 * `-_` and drops the padding. The package is bundled into each script that uses it, so teaching
 * it here changes no one else's copy.
 */
import * as buffer from 'buffer/';

type Method = (this: unknown, ...args: unknown[]) => unknown;

const isBase64url = (encoding: unknown) => typeof encoding === 'string' && encoding.toLowerCase() === 'base64url';

/** `method` with a `base64url` encoding at any of `positions` read as base64. */
function decodingAt(method: Method, positions: number[]): Method {
  return function (this: unknown, ...args: unknown[]) {
    for (const at of positions) if (isBase64url(args[at])) args[at] = 'base64';
    return method.apply(this, args);
  };
}

function teachBase64url(Buffer: typeof buffer.Buffer): void {
  const statics = Buffer as unknown as Record<string, Method>;
  const proto = Buffer.prototype as unknown as Record<string, Method>;
  const isEncoding = statics['isEncoding']!;
  statics['isEncoding'] = (encoding: unknown) => isBase64url(encoding) || isEncoding(encoding);
  // Buffer.from(text, encoding), byteLength(text, encoding), alloc(size, fill, encoding).
  statics['from'] = decodingAt(statics['from']!, [1]);
  statics['byteLength'] = decodingAt(statics['byteLength']!, [1]);
  statics['alloc'] = decodingAt(statics['alloc']!, [2]);
  // write(text, [offset], [length], encoding), fill(value, [offset], [end], encoding), indexOf(value, [byteOffset], encoding)…
  for (const name of ['write', 'fill']) proto[name] = decodingAt(proto[name]!, [1, 2, 3]);
  for (const name of ['indexOf', 'lastIndexOf', 'includes']) proto[name] = decodingAt(proto[name]!, [1, 2]);
  const toString = proto['toString']!;
  proto['toString'] = proto['toLocaleString'] = function (this: unknown, encoding?: unknown, ...range: unknown[]) {
    if (!isBase64url(encoding)) return toString.call(this, encoding, ...range);
    return String(toString.call(this, 'base64', ...range)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
}

teachBase64url(buffer.Buffer);

export * from 'buffer/';
export default buffer;
