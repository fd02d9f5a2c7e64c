// Loopback ports for servers the tests and the benchmark start. `freePort` picks a port and lets it
// go, for a server in another process that must be told its port up front (drawn outside the
// kernel's ephemeral range, so no outgoing connection takes it meanwhile); `reservePort` binds one
// and holds it until the server is about to listen, for a server that must know its port (its
// issuer URL) before it starts: the kernel never hands a held port to another process, whereas a
// port picked and let go can be taken by one in the seconds a server takes to start.
import { randomInt } from 'node:crypto'
import { createServer } from 'node:net'

export interface PortReservation {
  readonly port: number
  /** Lets the port go; call it just before the server listens on it. */
  release(): Promise<void>
}

export async function reservePort(host = '127.0.0.1'): Promise<PortReservation> {
  const holder = createServer()
  await new Promise<void>((resolve, reject) => {
    holder.once('error', reject)
    holder.listen(0, host, () => resolve())
  })
  const address = holder.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    port: address.port,
    release: () => new Promise<void>((resolve) => holder.close(() => resolve())),
  }
}

/**
 * Ports `freePort` draws from: below Linux's default ephemeral range (32768–60999), which the
 * kernel uses both for `listen(0)` and for the local end of every outgoing connection. A port
 * picked there and let go could be handed to a database client's socket, or to another test's
 * `listen(0)`, before the server that was told it binds; a port drawn at random below it can only
 * meet another draw (one in about 12,000) or a service already listening (the bind check skips it).
 */
export const FREE_PORT_RANGE = { first: 20_000, last: 32_767 } as const

async function tryBind(port: number, host: string): Promise<boolean> {
  const probe = createServer()
  return new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false))
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)))
  })
}

/** A port free now, for a server in another process (see FREE_PORT_RANGE for why not `listen(0)`). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const { first, last } = FREE_PORT_RANGE
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = first + randomInt(last - first + 1)
    if (await tryBind(port, host)) return port
  }
  throw new Error(`no free port in ${first}–${last} after 100 draws`)
}
