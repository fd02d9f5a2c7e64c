// A circuit breaker for a dependency that can go away (PostgreSQL, Redis): after a few consecutive
// failures that mean "unreachable" the circuit opens, and calls fail at once instead of each
// waiting for a connect or command timeout; after a cool-down one trial call is let through
// (half-open), and its success closes the circuit again. A request therefore costs milliseconds,
// not seconds, while the dependency is down, and the service notices its return within one
// cool-down (ADR-0017).

export type CircuitState = 'closed' | 'open' | 'half-open'

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  readonly failureThreshold?: number
  /** Milliseconds the circuit stays open before one trial call is let through. */
  readonly cooldownMs?: number
  /** Called on every change of state (logs, metrics). */
  readonly onStateChange?: (state: CircuitState, previous: CircuitState) => void
  readonly now?: () => number
}

export class CircuitOpenError extends Error {
  constructor(readonly dependency: string) {
    super(`${dependency} is unavailable (circuit open)`)
    this.name = 'CircuitOpenError'
  }
}

export class CircuitBreaker {
  private failures = 0
  private openedAt = 0
  private trialInFlight = false
  private current: CircuitState = 'closed'
  private readonly threshold: number
  private readonly cooldownMs: number
  private readonly now: () => number

  constructor(
    readonly dependency: string,
    private readonly options: CircuitBreakerOptions = {},
  ) {
    this.threshold = options.failureThreshold ?? 3
    this.cooldownMs = options.cooldownMs ?? 500
    this.now = options.now ?? (() => performance.now())
  }

  get state(): CircuitState {
    return this.current
  }

  /** Whether a call may go ahead now; in half-open state only one trial at a time. */
  allow(): boolean {
    if (this.current === 'closed') return true
    if (this.current === 'open') {
      if (this.now() - this.openedAt < this.cooldownMs) return false
      this.transition('half-open')
    }
    if (this.trialInFlight) return false
    this.trialInFlight = true
    return true
  }

  /** Throws CircuitOpenError when allow() says no. */
  enter(): void {
    if (!this.allow()) throw new CircuitOpenError(this.dependency)
  }

  /** The dependency answered (even with an error of its own, such as a constraint violation). */
  success(): void {
    this.failures = 0
    this.trialInFlight = false
    if (this.current !== 'closed') this.transition('closed')
  }

  /** The dependency could not be reached, or did not answer in time. */
  failure(): void {
    this.trialInFlight = false
    this.failures++
    if (this.current === 'half-open' || (this.current === 'closed' && this.failures >= this.threshold)) {
      this.openedAt = this.now()
      this.transition('open')
    }
  }

  /** A call that was let through ended without telling anything about the dependency. */
  release(): void {
    this.trialInFlight = false
  }

  private transition(next: CircuitState): void {
    const previous = this.current
    this.current = next
    if (previous !== next) this.options.onStateChange?.(next, previous)
  }
}
