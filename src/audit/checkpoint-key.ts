// The Ed25519 key that signs checkpoints. Like the token signing keys, it lives in the database
// (every instance signs with it) with the private key sealed by the keyring, bound to its kid;
// the public key stays readable for verification, also by `vigil audit verify`, which needs no
// keyring. The first checkpoint creates the key; instances doing so at once agree on one.

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto'
import { lockForTransaction, type Database, type Queryable } from '../platform/db/index.ts'
import type { Keyring } from '../platform/crypto/keyring.ts'
import { insertSigningKey, readCurrentSigningKey, retireCurrentSigningKeys } from './repository.ts'

export interface CheckpointSigner {
  readonly kid: string
  /** SPKI DER, base64url: exported with each checkpoint so it can be checked outside Vigil. */
  readonly publicKey: string
  /** Ed25519 signature, base64url. */
  sign(data: Buffer): string
}

const KEY_CREATION_LOCK = 727_000_003 // pg_advisory_xact_lock key: first audit key creation
const aad = (kid: string) => `audit_signing_keys:${kid}`

export function signerFromPrivateKey(kid: string, pkcs8Der: Buffer): CheckpointSigner {
  const privateKey = createPrivateKey({ key: pkcs8Der, format: 'der', type: 'pkcs8' })
  const publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64url')
  return { kid, publicKey, sign: (data) => sign(null, data, privateKey).toString('base64url') }
}

/** A fresh in-memory key pair (tests, benchmarks). */
export function generateCheckpointKey(kid: string = randomUUID()): {
  signer: CheckpointSigner
  pkcs8Der: Buffer
} {
  const { privateKey } = generateKeyPairSync('ed25519')
  const pkcs8Der = privateKey.export({ format: 'der', type: 'pkcs8' })
  return { signer: signerFromPrivateKey(kid, pkcs8Der), pkcs8Der }
}

/** The current checkpoint key from the database; the first call creates it. */
export async function loadCheckpointSigner(
  db: Database,
  keyring: Pick<Keyring, 'encrypt' | 'decrypt'>,
): Promise<CheckpointSigner> {
  let row = await readCurrentSigningKey(db)
  if (!row) {
    row = await db.transaction(async (tx) => {
      await lockForTransaction(tx, KEY_CREATION_LOCK)
      const again = await readCurrentSigningKey(tx)
      if (again) return again
      const { signer, pkcs8Der } = generateCheckpointKey()
      const created = {
        kid: signer.kid,
        publicKey: signer.publicKey,
        privateKeySealed: keyring.encrypt(pkcs8Der, aad(signer.kid)),
      }
      await insertSigningKey(tx, created)
      return created
    })
  }
  return signerFromPrivateKey(row.kid, keyring.decrypt(row.privateKeySealed, aad(row.kid)))
}

export function verifySignature(publicKeySpki: string, data: Buffer, signature: string): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(publicKeySpki, 'base64url'), format: 'der', type: 'spki' })
    return verify(null, data, key, Buffer.from(signature, 'base64url'))
  } catch {
    return false
  }
}

/**
 * Rotation: a new checkpoint key becomes current and the old one is retired (retired_at set). Its
 * public key stays in audit_signing_keys, so checkpoints it signed keep verifying. `recordIn` runs
 * in the same transaction (the key operation's audit entry). Returns the new kid.
 */
export async function rotateCheckpointKey(
  db: Database,
  keyring: Pick<Keyring, 'encrypt' | 'decrypt'>,
  recordIn?: (tx: Queryable, kids: { retired: string | null; current: string }) => Promise<void>,
): Promise<string> {
  return db.transaction(async (tx) => {
    await lockForTransaction(tx, KEY_CREATION_LOCK)
    const old = await readCurrentSigningKey(tx)
    await retireCurrentSigningKeys(tx)
    const { signer, pkcs8Der } = generateCheckpointKey()
    await insertSigningKey(tx, {
      kid: signer.kid,
      publicKey: signer.publicKey,
      privateKeySealed: keyring.encrypt(pkcs8Der, aad(signer.kid)),
    })
    await recordIn?.(tx, { retired: old?.kid ?? null, current: signer.kid })
    return signer.kid
  })
}
