// Signing-key rotation reaches every running instance without a restart (issue 12; ADR-0017).
// `vigil keys rotate-signing` writes the new key to the shared database; each instance checks the
// set of valid keys there on a timer and, when it changed, loads them into oidc-provider's key
// store in place: the JWKS it publishes and the key it signs with follow within one interval.
// oidc-provider has no public API to replace its keys after construction; this calls the same
// function its constructor calls (lib/helpers/initialize_keystore.js, pinned with the package),
// and the provider reads its key store on every signature and every JWKS request.

import type { JWK } from 'jose'
import type Provider from 'oidc-provider'
// @ts-expect-error -- an internal module of oidc-provider without type declarations (see above)
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js'
import type { Database } from '../../platform/db/index.ts'
import type { Sealer } from './sealer.ts'
import { loadSigningKeys } from './signing-keys.ts'
import { liveSigningKeyStates } from './signing-keys.repository.ts'

export interface SigningKeyRefresh {
  /** Checks once; true when the keys changed and were reloaded. */
  check(): Promise<boolean>
  stop(): void
}

export function startSigningKeyRefresh(deps: {
  provider: Provider
  db: Database
  sealer: Sealer
  intervalMs: number
  onError?: (err: unknown) => void
  onReload?: (kids: readonly string[]) => void
}): SigningKeyRefresh {
  const fingerprint = async () =>
    (await liveSigningKeyStates(deps.db)).map((r) => `${r.kid}:${r.retired}`).join(',')
  let known: Promise<string> = fingerprint().catch((err: unknown) => {
    deps.onError?.(err)
    return ''
  })
  let running: Promise<boolean> | undefined
  const check = async (): Promise<boolean> => {
    const [before, now] = await Promise.all([known, fingerprint()])
    if (before === now) return false
    const keys: JWK[] = await loadSigningKeys(deps.db, deps.sealer)
    ;(initializeKeystore as (this: Provider, jwks: { keys: JWK[] }) => void).call(deps.provider, { keys })
    known = Promise.resolve(now)
    deps.onReload?.(keys.map((k) => k.kid ?? ''))
    return true
  }
  const timer = setInterval(() => {
    running ??= check()
      .catch((err: unknown) => {
        deps.onError?.(err)
        return false
      })
      .finally(() => {
        running = undefined
      })
  }, deps.intervalMs)
  timer.unref()
  return { check, stop: () => clearInterval(timer) }
}
