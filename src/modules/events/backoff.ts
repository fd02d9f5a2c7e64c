// Retry timing (ADR-0020): exponential back-off with "full jitter" on its upper half — the delay
// after attempt n is uniformly drawn from [d/2, d] where d = min(base · 2^(n-1), max) — so
// receivers coming back from an outage are not hit by every sender at the same instant.

export interface BackoffPolicy {
  readonly baseMs: number
  readonly maxDelayMs: number
  /** Give up (dead-letter) once the delivery has been retried this long (see retryPeriodStart). */
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

/**
 * When a delivery's retry period starts: when it was queued for its destination (the fan-out), or
 * re-driven or replayed since (those reset `eventCreatedAt` to their own time), whichever is later.
 * Not the event's creation: an event fanned out late (the relay was down, every instance was
 * stopped) would otherwise get one attempt and no retry.
 */
export function retryPeriodStart(delivery: {
  readonly eventCreatedAt: Date
  readonly createdAt: Date
}): Date {
  return delivery.eventCreatedAt > delivery.createdAt ? delivery.eventCreatedAt : delivery.createdAt
}

/** The next attempt's time, or undefined when the delivery has been retried long enough (dead-letter). */
export function nextAttemptAt(
  policy: BackoffPolicy,
  attempts: number,
  retryingSince: Date,
  now: Date,
  random?: () => number,
): Date | undefined {
  if (now.getTime() - retryingSince.getTime() >= policy.retryForMs) return undefined
  return new Date(now.getTime() + retryDelayMs(policy, attempts, random))
}
