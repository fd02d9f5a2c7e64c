// The test harness's port picker: ports for servers in other processes are drawn outside the
// kernel's ephemeral range, so an outgoing connection or another test's listen(0) cannot take one
// between the pick and the child's bind (the race behind intermittent EADDRINUSE at start-up).
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { FREE_PORT_RANGE, freePort } from './ports.ts'

test('freePort draws bindable ports below the ephemeral range, not the kernel’s listen(0) ports', async () => {
  const file = '/proc/sys/net/ipv4/ip_local_port_range'
  const [low] = existsSync(file) ? readFileSync(file, 'utf8').trim().split(/\s+/).map(Number) : [32_768]
  assert.ok(FREE_PORT_RANGE.last < (low as number), `the range ends below the ephemeral range (${low})`)
  const drawn = new Set<number>()
  for (let i = 0; i < 20; i++) {
    const port = await freePort()
    assert.ok(port >= FREE_PORT_RANGE.first && port <= FREE_PORT_RANGE.last, String(port))
    drawn.add(port)
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  assert.ok(drawn.size > 1, 'the draws are random, not one fixed port')
})
