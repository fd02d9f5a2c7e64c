// The Redis client every module shares (rate limits: ADR-0007), hardened for a Redis that goes
// away or stops answering (ADR-0017): every command has a deadline (REDIS_COMMAND_TIMEOUT_MS), no
// command waits in an offline queue, and a circuit breaker in front of every command makes them
// fail at once after a few failures, so a frozen Redis costs a request at most one timeout and
// then nothing. Callers already treat a failed command as "no shared counter" (fail open).

import { Redis, type Command } from 'ioredis'
import { CircuitBreaker, CircuitOpenError, type CircuitState } from '../resilience/circuit-breaker.ts'

export interface RedisClientOptions {
  readonly commandTimeoutMs: number
  readonly onError?: (err: Error) => void
  readonly onCircuit?: (state: CircuitState, previous: CircuitState) => void
  /** Circuit breaker: consecutive failures that open it, and its cool-down (REDIS_CIRCUIT_*). */
  readonly circuit?: { readonly failureThreshold: number; readonly cooldownMs: number }
}

export interface ResilientRedis extends Redis {
  circuitState(): CircuitState
}

export function createRedisClient(url: string, options: RedisClientOptions): ResilientRedis {
  const redis = new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    commandTimeout: options.commandTimeoutMs,
    // Reconnect quickly but not in a tight loop.
    retryStrategy: (times) => Math.min(100 * times, 2_000),
  })
  redis.on('error', (err: Error) => options.onError?.(err))
  const breaker = new CircuitBreaker('redis', {
    failureThreshold: options.circuit?.failureThreshold ?? 3,
    cooldownMs: options.circuit?.cooldownMs ?? 1_000,
    ...(options.onCircuit ? { onStateChange: options.onCircuit } : {}),
  })

  const send = redis.sendCommand.bind(redis)
  redis.sendCommand = ((command: Command, stream?: unknown) => {
    // Connection handshake commands (sent on a given stream) bypass the breaker.
    if (stream !== undefined) return send(command, stream as never)
    if (!breaker.allow()) {
      command.reject(new CircuitOpenError('redis'))
      return command.promise
    }
    const result = send(command)
    command.promise.then(
      () => breaker.success(),
      (err: unknown) => {
        // A reply error means Redis answered: only silence and lost connections count.
        if (err instanceof Error && err.name === 'ReplyError') breaker.success()
        else breaker.failure()
      },
    )
    return result
  }) as Redis['sendCommand']
  return Object.assign(redis, { circuitState: () => breaker.state })
}
