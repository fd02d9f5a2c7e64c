// Loopback ports for servers the tests and the benchmark start. `freePort` picks a port and lets it
// go, for a server in another process that must be told its port up front; `reservePort` binds one
// and holds it until the server is about to listen, for a server that must know its port (its
// issuer URL) before it starts: the kernel never hands a held port to another process, whereas a
// port picked and let go can be taken by one in the seconds a server takes to start.
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

export async function freePort(): Promise<number> {
  const reservation = await reservePort()
  await reservation.release()
  return reservation.port
}
