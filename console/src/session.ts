// Who is signed in (GET /api/v2/me) and, for a patient, their own record (GET /api/v2/patients).
import { createContext } from 'preact'
import { useContext } from 'preact/hooks'

export interface Me {
  kind: 'user' | 'device' | 'client'
  id: string
  roles: string[]
  scopes: string[]
}
export const SessionContext = createContext<{ me: Me } | null>(null)
export function useMe(): Me {
  const s = useContext(SessionContext)
  if (!s) throw new Error('no session')
  return s.me
}
export const has = (me: Me, role: string) => me.roles.includes(role)
