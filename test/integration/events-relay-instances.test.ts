// Two instances, one active relay (issue 16; see events-relay-process.ts).
import { relayProcessSuite } from './events-relay-process.ts'

relayProcessSuite('instances')
