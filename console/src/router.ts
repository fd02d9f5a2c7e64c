// A small history router over /console/… paths. The app keeps its state in paths (patient ids,
// tabs), never in query strings, so nothing typed by the user lands in the address bar.
import { useEffect, useState } from 'preact/hooks'

const listeners = new Set<() => void>()

export function navigate(path: string): void {
  if (path === window.location.pathname) return
  window.history.pushState(null, '', path)
  for (const l of listeners) l()
}

export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname)
  useEffect(() => {
    const update = () => setPath(window.location.pathname)
    listeners.add(update)
    window.addEventListener('popstate', update)
    return () => {
      listeners.delete(update)
      window.removeEventListener('popstate', update)
    }
  }, [])
  return path
}

/** Matches '/console/patients/:id' against a path; returns the named parts or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/')
  const a = path.replace(/\/$/, '').split('/')
  if (p.length !== a.length) return null
  const out: Record<string, string> = {}
  for (let i = 0; i < p.length; i++) {
    const part = p[i] as string
    const actual = a[i] as string
    if (part.startsWith(':')) out[part.slice(1)] = decodeURIComponent(actual)
    else if (part !== actual) return null
  }
  return out
}
