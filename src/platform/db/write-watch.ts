// Writes seen in this process, for caches that must drop what a write may have changed (issue 17;
// ADR-0029). Every Database this process opens (PGlite or PostgreSQL, the app's, a test's, the
// CLI's) reports each statement it ran successfully; a watch whose pattern matches the SQL hears of
// it once the write is visible to other sessions: at once outside a transaction, after COMMIT (or
// ROLLBACK, harmlessly) inside one. Other processes' writes arrive through LISTEN/NOTIFY instead.

export interface WriteWatch {
  readonly pattern: RegExp
  readonly listener: () => void
}

const watches = new Set<WriteWatch>()

/** Calls listener after every write whose SQL matches pattern; returns the function that stops watching. */
export function watchWrites(pattern: RegExp, listener: () => void): () => void {
  const watch: WriteWatch = { pattern, listener }
  watches.add(watch)
  return () => void watches.delete(watch)
}

/** The watches a statement concerns (undefined, the common case, when none). */
export function watchesFor(sql: string): WriteWatch[] | undefined {
  if (watches.size === 0) return undefined
  let hit: WriteWatch[] | undefined
  for (const w of watches) if (w.pattern.test(sql)) (hit ??= []).push(w)
  return hit
}

export function notify(hit: Iterable<WriteWatch> | undefined): void {
  if (!hit) return
  for (const w of hit) w.listener()
}

/** Collects the watches a transaction's statements concern, to be told when it ends. */
export class PendingWrites {
  private readonly hit = new Set<WriteWatch>()
  note(sql: string): void {
    const h = watchesFor(sql)
    if (h) for (const w of h) this.hit.add(w)
  }
  flush(): void {
    notify(this.hit)
    this.hit.clear()
  }
}
