import assert from 'node:assert/strict'
import { test } from 'node:test'
import { destinationUrlProblem, isPublicAddress, resolvePublic } from './destination-address.ts'
import { createWebhookSender } from './webhook-sender.ts'

const production = { allowPrivate: false }

test('[SRS-EVT-359] SSRF guard: private, loopback, link-local, CGNAT, multicast and special-purpose addresses are not public, IPv4-mapped IPv6 included', () => {
  for (const a of [
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '198.18.0.1',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:7f00:1',
    '64:ff9b::a00:1',
    'ff02::1',
  ]) {
    assert.equal(isPublicAddress(a), false, a)
  }
  for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
    assert.equal(isPublicAddress(a), true, a)
})

test('[SRS-EVT-359] SSRF guard: in production a destination is an https URL naming a public host, without credentials', () => {
  assert.equal(destinationUrlProblem('https://hooks.example.com/x', production), undefined)
  assert.match(destinationUrlProblem('http://hooks.example.com/x', production) ?? '', /https/)
  assert.match(destinationUrlProblem('https://127.0.0.1/x', production) ?? '', /private/)
  assert.match(destinationUrlProblem('https://[::1]/x', production) ?? '', /private/)
  assert.match(destinationUrlProblem('https://169.254.169.254/latest/meta-data', production) ?? '', /private/)
  assert.match(destinationUrlProblem('https://localhost/x', production) ?? '', /public host/)
  assert.match(destinationUrlProblem('https://intranet/x', production) ?? '', /public host/)
  assert.match(destinationUrlProblem('https://user:pw@hooks.example.com/x', production) ?? '', /credentials/)
  assert.match(destinationUrlProblem('not a url', production) ?? '', /absolute URL/)
  // development and tests may use a local receiver
  assert.equal(destinationUrlProblem('http://127.0.0.1:9000/x', { allowPrivate: true }), undefined)
})

test('[SRS-EVT-359] SSRF guard: a host name is judged by the addresses it resolves to, and the sender refuses before connecting', async () => {
  await assert.rejects(resolvePublic('127.0.0.1', production), /not public/)
  await assert.rejects(resolvePublic('vm', production), /not public/, '/etc/hosts maps it to 127.0.0.1')
  assert.ok((await resolvePublic('vm', { allowPrivate: true })).length > 0)
  const send = createWebhookSender({ ...production, timeoutMs: 2000 })
  const refused = await send('https://127.0.0.1:1/x', {}, '{}')
  assert.equal(refused.status, undefined)
  assert.match(refused.error ?? '', /destination refused/)
})
