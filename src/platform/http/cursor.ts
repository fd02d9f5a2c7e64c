// Paging cursors are authenticated: the server appends an HMAC-SHA256 tag (43 base64url
// characters) of the cursor's content under a key derived from the keyring, and a cursor whose tag
// does not verify is refused before anything reads it. A forged or altered cursor — a year-0
// timestamp, an id of the attacker's choosing, a cursor of another list — is then a 400, never a
// query (ADR-0015). The tag is keyed per list (`purpose`), so one list's cursor opens no other.
// The content stays what each list encodes (base64url); only its authenticity is added here.

import { timingSafeEqual } from 'node:crypto'
import type { Keyring } from '../crypto/keyring.ts'
import { isInstantInRange } from './calendar.ts'

const TAG_LENGTH = 43 // base64url of 32 bytes, unpadded
const BASE64URL = /^[A-Za-z0-9_-]+$/

export interface CursorSeal {
  /** The cursor to hand out: the content followed by its tag. */
  seal(content: string): string
  /** The content of a cursor this server issued for this list; undefined for anything else. */
  open(cursor: string): string | undefined
}

/** Seals cursors of one list (`purpose`, e.g. "audit entries") with the keyring's keyed HMAC. */
export function cursorSeal(keyring: Pick<Keyring, 'blindIndex'>, purpose: string): CursorSeal {
  const tagOf = (content: string) => keyring.blindIndex(content, `paging cursor ${purpose}`)
  return {
    seal(content) {
      if (!BASE64URL.test(content)) throw new TypeError('cursorSeal: the content must be base64url')
      return content + tagOf(content)
    },
    open(cursor) {
      if (
        typeof cursor !== 'string' ||
        cursor.length <= TAG_LENGTH ||
        cursor.length > 1024 ||
        !BASE64URL.test(cursor)
      )
        return undefined
      const content = cursor.slice(0, -TAG_LENGTH)
      const given = Buffer.from(cursor.slice(-TAG_LENGTH))
      const expected = Buffer.from(tagOf(content))
      // Timing-safe compare: a plain === leaks how many characters of a forged tag were right.
      return given.length === expected.length && timingSafeEqual(given, expected) ? content : undefined
    },
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** A keyset position (a row's instant and its id) as a sealed cursor: base64url of "<ISO instant>|<id>". */
export function sealPosition(seal: CursorSeal, at: Date, id: string): string {
  return seal.seal(Buffer.from(`${at.toISOString()}|${id}`, 'utf8').toString('base64url'))
}

/** The position in a cursor sealPosition issued under this seal; undefined for anything else,
 *  including an instant out of range or an id that is not a lowercase UUID. */
export function openPosition(seal: CursorSeal, cursor: string): { at: Date; id: string } | undefined {
  const content = seal.open(cursor)
  const [iso, id] = content === undefined ? [] : Buffer.from(content, 'base64url').toString('utf8').split('|')
  const at = new Date(iso ?? '')
  return id && UUID.test(id) && isInstantInRange(at) ? { at, id } : undefined
}
