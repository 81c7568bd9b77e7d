/**
 * SSRF guard: which addresses the proxy may connect to. Private, loopback, link-local and other
 * special ranges are refused unless the provider's own base URL points at one (a provider on the
 * local network, or a test server). Checked on the address actually connected to (the DNS
 * answer), so a public name that resolves to 127.0.0.1 is refused too.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  return blocked.check(address, 'ipv6');
}

/** True when the provider's base URL itself names a private address (or localhost). */
export function baseUrlIsPrivate(baseUrl: string): boolean {
  const host = new URL(baseUrl).hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return isPrivateAddress(host);
}

export type LookupFn = typeof dnsLookup;

export class AddressBlockedError extends Error {
  readonly code = 'ADDRESS_BLOCKED';
}

/**
 * A `lookup` for node:http that refuses private answers. `resolve` is the resolver underneath
 * (the system's by default).
 */
export function guardedLookup(allowPrivate: boolean, resolve: LookupFn = dnsLookup): LookupFn {
  const guarded = (hostname: string, options: unknown, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    (resolve as (h: string, o: unknown, cb: typeof callback) => void)(hostname, options, (err, address, family) => {
      if (err) return callback(err, address, family);
      const all = Array.isArray(address) ? address : [{ address, family: family ?? 4 }];
      const bad = allowPrivate ? undefined : all.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(new AddressBlockedError(`${hostname} resolves to ${bad.address}, a private address the proxy may not reach`), address, family);
      callback(null, address, family);
    });
  };
  return guarded as LookupFn;
}
