// Reading summaries (issue 15): hour/day buckets and the ambulatory glucose profile, for charts.
export { readingSummaryRoutesV2 } from './routes.v2.ts'
