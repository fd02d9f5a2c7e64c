// Shared pieces: loading and error states, paged tables. Every control has a visible label.
import type { ComponentChildren } from 'preact'
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { ApiError } from './api.ts'

export interface Loaded<T> {
  data: T | undefined
  error: string | undefined
  loading: boolean
  reload: () => void
}

/** Runs `load` when `deps` change; a call slower than a blink shows progress. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let live = true
    setState((s) => ({ ...s, loading: true, error: undefined }))
    load().then(
      (data) => live && setState({ data, loading: false }),
      (err: unknown) =>
        live &&
        setState({
          loading: false,
          error:
            err instanceof ApiError ? err.message : 'Something went wrong in the console. Reload the page.',
        }),
    )
    return () => {
      live = false
    }
  }, [...deps, tick])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  return { data: state.data, error: state.error, loading: state.loading, reload }
}

export function Progress({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="progress" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  )
}

export function ErrorNote({ message }: { message: string }) {
  return (
    <p class="error" role="alert">
      {message}
    </p>
  )
}

export function Section({
  title,
  children,
  id,
}: {
  title: string
  children: ComponentChildren
  id?: string
}) {
  return (
    <section class="card" aria-labelledby={id ?? slug(title)}>
      <h2 id={id ?? slug(title)}>{title}</h2>
      {children}
    </section>
  )
}

export function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
}

/** Wraps an action: disables while running, shows its outcome. */
export function useAction(): {
  busy: boolean
  message: string | undefined
  error: string | undefined
  run: (fn: () => Promise<string | undefined>) => Promise<void>
} {
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<string>()
  const [error, setError] = useState<string>()
  const run = async (fn: () => Promise<string | undefined>) => {
    setBusy(true)
    setError(undefined)
    setMessage(undefined)
    try {
      setMessage(await fn())
    } catch (err) {
      setError(
        err instanceof ApiError ? err.message : 'Something went wrong in the console. Reload the page.',
      )
    } finally {
      setBusy(false)
    }
  }
  return { busy, message, error, run }
}

export function Outcome({
  action,
}: {
  action: { busy: boolean; message: string | undefined; error: string | undefined }
}) {
  if (action.busy) return <Progress label="Working…" />
  if (action.error) return <ErrorNote message={action.error} />
  if (action.message)
    return (
      <p class="ok" role="status">
        {action.message}
      </p>
    )
  return null
}

export const PAGE_SIZE = 20

/**
 * Client-side pages over a list the API returned whole: a list named `listLabel` (each `render`
 * gives one `<li>`) and, when there is more than one page, its pager after it.
 */
export function Paged<T>({
  items,
  render,
  label,
  listLabel,
}: {
  items: readonly T[]
  render: (item: T) => ComponentChildren
  label: string
  listLabel: string
}) {
  const [page, setPage] = useState(0)
  const pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE))
  const current = Math.min(page, pages - 1)
  const slice = items.slice(current * PAGE_SIZE, (current + 1) * PAGE_SIZE)
  return (
    <>
      <ul class="rows" aria-label={listLabel}>
        {slice.map(render)}
      </ul>
      {pages > 1 && (
        <nav class="pager" aria-label={`${label} pages`}>
          <button type="button" disabled={current === 0} onClick={() => setPage(current - 1)}>
            Previous
          </button>
          <span>
            Page {current + 1} of {pages}
          </span>
          <button type="button" disabled={current >= pages - 1} onClick={() => setPage(current + 1)}>
            Next
          </button>
        </nav>
      )}
    </>
  )
}

/**
 * A destructive action behind an inline confirmation step (ADR-0027: not `window.confirm`, so it is
 * keyboard- and screen-reader-usable and checked by axe-core). Shows the `trigger` button; once
 * pressed, a group named `groupLabel` with the `question`, a confirm and a Cancel button in its
 * place. Focus moves to the confirm button, and back to the trigger on Cancel.
 */
export function ConfirmAction({
  trigger,
  triggerLabel,
  triggerClass = 'secondary',
  groupLabel,
  question,
  confirm,
  busy = false,
  onConfirm,
}: {
  trigger: string
  triggerLabel: string
  triggerClass?: string
  groupLabel: string
  question: ComponentChildren
  confirm: string
  busy?: boolean
  onConfirm: () => void | Promise<void>
}) {
  const [open, setOpen] = useState(false)
  const [focusTarget, setFocusTarget] = useState<'confirm' | 'trigger' | null>(null)
  const confirmRef = useRef<HTMLButtonElement>(null)
  const triggerRef = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    if (focusTarget === 'confirm') confirmRef.current?.focus()
    if (focusTarget === 'trigger') triggerRef.current?.focus()
  }, [open, focusTarget])
  if (!open)
    return (
      <button
        ref={triggerRef}
        type="button"
        class={triggerClass}
        aria-label={triggerLabel}
        disabled={busy}
        onClick={() => {
          setOpen(true)
          setFocusTarget('confirm')
        }}
      >
        {trigger}
      </button>
    )
  return (
    <span role="group" aria-label={groupLabel} class="confirm">
      <span>{question}</span>
      <button
        ref={confirmRef}
        type="button"
        disabled={busy}
        onClick={() => {
          setOpen(false)
          setFocusTarget(null)
          void onConfirm()
        }}
      >
        {confirm}
      </button>
      <button
        type="button"
        class="secondary"
        disabled={busy}
        onClick={() => {
          setOpen(false)
          setFocusTarget('trigger')
        }}
      >
        Cancel
      </button>
    </span>
  )
}

/**
 * Newer / Older over a cursor-paged list (the audit trail, the access report, anomalies, security
 * events): `cursors` is the stack of cursors walked so far, starting with null for the first page.
 */
export function CursorPager({
  label,
  cursors,
  setCursors,
  next,
}: {
  label: string
  cursors: Array<string | null>
  setCursors: (cursors: Array<string | null>) => void
  next: string | null | undefined
}) {
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
        Newer
      </button>
      <button type="button" disabled={!next} onClick={() => next && setCursors([...cursors, next])}>
        Older
      </button>
    </nav>
  )
}
