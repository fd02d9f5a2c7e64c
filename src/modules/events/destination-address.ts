// SSRF guard for outgoing webhooks (ADR-0020; OWASP SSRF Prevention Cheat Sheet): in production a
// destination must be https on a public address. The check is made on the address actually
// connected to — the DNS lookup the HTTP client uses is this module's — so a name that resolves
// to a private address, or is re-pointed there after the subscription was made (DNS rebinding),
// is refused at delivery time too.

import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns'
import net from 'node:net'

// Special-purpose ranges (IANA IPv4/IPv6 Special-Purpose Address Registries) a webhook must never reach.
const BLOCKED = new net.BlockList()
for (const [prefix, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED.addSubnet(prefix, bits, 'ipv4')
for (const [prefix, bits] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  BLOCKED.addSubnet(prefix, bits, 'ipv6')

/** Is this IP address one a webhook may reach in production? IPv4-mapped IPv6 is judged as IPv4. */
export function isPublicAddress(address: string): boolean {
  const family = net.isIP(address)
  if (family === 0) return false
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
    if (mapped?.[1]) return isPublicAddress(mapped[1])
    // ::ffff:7f00:1 and other hex forms of mapped addresses
    if (/^::ffff:/i.test(address)) return false
    return !BLOCKED.check(address, 'ipv6')
  }
  return !BLOCKED.check(address, 'ipv4')
}

export class DestinationRefused extends Error {
  override name = 'DestinationRefused'
}

export interface DestinationRules {
  /** Allow plain http and private, loopback and link-local addresses (never in production). */
  readonly allowPrivate: boolean
}

/** The reason a URL may not be a destination, or undefined. Static checks only (no DNS). */
export function destinationUrlProblem(raw: string, rules: DestinationRules): string | undefined {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    return 'must be an absolute URL'
  }
  if (u.protocol !== 'https:' && !(rules.allowPrivate && u.protocol === 'http:'))
    return 'must be an https URL'
  if (u.username || u.password) return 'must not carry credentials'
  if (u.hash) return 'must not have a fragment'
  const host = u.hostname.replace(/^\[|\]$/g, '')
  if (!rules.allowPrivate) {
    if (net.isIP(host) !== 0 && !isPublicAddress(host))
      return 'must not be a private, loopback or link-local address'
    if (
      host === 'localhost' ||
      host.endsWith('.localhost') ||
      host.endsWith('.local') ||
      host.endsWith('.internal') ||
      !host.includes('.')
    )
      return 'must name a public host'
  }
  return undefined
}

/** Resolves a host and refuses it when any of its addresses is not public (unless allowed). */
export async function resolvePublic(host: string, rules: DestinationRules): Promise<LookupAddress[]> {
  const bare = host.replace(/^\[|\]$/g, '')
  if (net.isIP(bare) !== 0) {
    if (!rules.allowPrivate && !isPublicAddress(bare))
      throw new DestinationRefused('the destination address is not public')
    return [{ address: bare, family: net.isIP(bare) }]
  }
  const addresses = await new Promise<LookupAddress[]>((resolve, reject) =>
    dnsLookup(bare, { all: true }, (err, found) => (err ? reject(err) : resolve(found))),
  )
  if (!rules.allowPrivate && (addresses.length === 0 || addresses.some((a) => !isPublicAddress(a.address))))
    throw new DestinationRefused('the destination resolves to an address that is not public')
  return addresses
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void

/** A `lookup` for http(s).request that resolves with resolvePublic: the address checked is the address connected to. */
export function guardedLookup(rules: DestinationRules) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolvePublic(hostname, rules).then(
      (addresses) => {
        const wanted =
          options.family === 4 || options.family === 6
            ? addresses.filter((a) => a.family === options.family)
            : addresses
        if (wanted.length === 0)
          return callback(
            Object.assign(new Error('no address of the requested family'), { code: 'ENOTFOUND' }),
            '',
            0,
          )
        if (options.all) return callback(null, wanted)
        const first = wanted[0] as LookupAddress
        return callback(null, first.address, first.family)
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    )
  }
}
