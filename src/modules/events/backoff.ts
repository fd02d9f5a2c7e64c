// Retry timing (ADR-0020): exponential back-off with "full jitter" on its upper half — the delay
// after attempt n is uniformly drawn from [d/2, d] where d = min(base · 2^(n-1), max) — so
// receivers coming back from an outage are not hit by every sender at the same instant.

export interface BackoffPolicy {
  readonly baseMs: number
  readonly maxDelayMs: number
  /** Give up (dead-letter) once the event is this old. */
  readonly retryForMs: number
}

export function retryDelayMs(
  policy: BackoffPolicy,
  attempts: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 40)
  const ceiling = Math.min(policy.baseMs * 2 ** exponent, policy.maxDelayMs)
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}

/** The next attempt's time, or undefined when the event has been retried long enough (dead-letter). */
export function nextAttemptAt(
  policy: BackoffPolicy,
  attempts: number,
  eventCreatedAt: Date,
  now: Date,
  random?: () => number,
): Date | undefined {
  if (now.getTime() - eventCreatedAt.getTime() >= policy.retryForMs) return undefined
  return new Date(now.getTime() + retryDelayMs(policy, attempts, random))
}
