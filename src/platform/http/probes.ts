/** The operational probes: health checks and the metrics scrape. Frequent, anonymous by design
 * and free of health data — kept out of the audit trail and the rate limit. */
export function isOperationalProbe(route: string | undefined): boolean {
  return route !== undefined && (route.startsWith('/health/') || route === '/metrics')
}
