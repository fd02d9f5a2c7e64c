// The relay survives a SIGKILL between commit and delivery (issue 16; see events-relay-process.ts).
import { relayProcessSuite } from './events-relay-process.ts'

relayProcessSuite('crash')
