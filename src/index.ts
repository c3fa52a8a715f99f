// Every command, by id, for oclif's explicit command discovery ("oclif.commands" in package.json):
// the build bundles this module, so that starting a command reads one file instead of scanning
// dist/commands and importing a module tree. scripts/build.mjs fails when a file under src/commands
// is missing here, or an id here does not match its file.
import type {Command} from '@oclif/core'

import Call from './commands/call.js'
import Check from './commands/check.js'
import ContextList from './commands/context/list.js'
import ContextShow from './commands/context/show.js'
import ContextUse from './commands/context/use.js'
import ControlAddConsumer from './commands/control/add-consumer.js'
import ControlAutoscale from './commands/control/autoscale.js'
import ControlCancelConsumer from './commands/control/cancel-consumer.js'
import ControlDisableEvents from './commands/control/disable-events.js'
import ControlDrain from './commands/control/drain.js'
import ControlEnableEvents from './commands/control/enable-events.js'
import ControlHeartbeat from './commands/control/heartbeat.js'
import ControlPing from './commands/control/ping.js'
import ControlPoolGrow from './commands/control/pool-grow.js'
import ControlPoolRestart from './commands/control/pool-restart.js'
import ControlPoolShrink from './commands/control/pool-shrink.js'
import ControlRateLimit from './commands/control/rate-limit.js'
import ControlRevoke from './commands/control/revoke.js'
import ControlRevokeByStampedHeaders from './commands/control/revoke-by-stamped-headers.js'
import ControlShutdown from './commands/control/shutdown.js'
import ControlTerminate from './commands/control/terminate.js'
import ControlTimeLimit from './commands/control/time-limit.js'
import Doctor from './commands/doctor.js'
import Events from './commands/events.js'
import Inspect from './commands/inspect/index.js'
import InspectActive from './commands/inspect/active.js'
import InspectActiveQueues from './commands/inspect/active-queues.js'
import InspectClock from './commands/inspect/clock.js'
import InspectConf from './commands/inspect/conf.js'
import InspectMemdump from './commands/inspect/memdump.js'
import InspectMemsample from './commands/inspect/memsample.js'
import InspectObjgraph from './commands/inspect/objgraph.js'
import InspectPing from './commands/inspect/ping.js'
import InspectQueryTask from './commands/inspect/query-task.js'
import InspectRegistered from './commands/inspect/registered.js'
import InspectReport from './commands/inspect/report.js'
import InspectReserved from './commands/inspect/reserved.js'
import InspectRevoked from './commands/inspect/revoked.js'
import InspectScheduled from './commands/inspect/scheduled.js'
import InspectStats from './commands/inspect/stats.js'
import Queues from './commands/queues.js'
import Simulate from './commands/simulate.js'
import Status from './commands/status.js'
import Top from './commands/top.js'

export const COMMANDS: Record<string, typeof Command> = {
  call: Call,
  check: Check,
  'context:list': ContextList,
  'context:show': ContextShow,
  'context:use': ContextUse,
  'control:add-consumer': ControlAddConsumer,
  'control:autoscale': ControlAutoscale,
  'control:cancel-consumer': ControlCancelConsumer,
  'control:disable-events': ControlDisableEvents,
  'control:drain': ControlDrain,
  'control:enable-events': ControlEnableEvents,
  'control:heartbeat': ControlHeartbeat,
  'control:ping': ControlPing,
  'control:pool-grow': ControlPoolGrow,
  'control:pool-restart': ControlPoolRestart,
  'control:pool-shrink': ControlPoolShrink,
  'control:rate-limit': ControlRateLimit,
  'control:revoke': ControlRevoke,
  'control:revoke-by-stamped-headers': ControlRevokeByStampedHeaders,
  'control:shutdown': ControlShutdown,
  'control:terminate': ControlTerminate,
  'control:time-limit': ControlTimeLimit,
  doctor: Doctor,
  events: Events,
  inspect: Inspect,
  'inspect:active': InspectActive,
  'inspect:active-queues': InspectActiveQueues,
  'inspect:clock': InspectClock,
  'inspect:conf': InspectConf,
  'inspect:memdump': InspectMemdump,
  'inspect:memsample': InspectMemsample,
  'inspect:objgraph': InspectObjgraph,
  'inspect:ping': InspectPing,
  'inspect:query-task': InspectQueryTask,
  'inspect:registered': InspectRegistered,
  'inspect:report': InspectReport,
  'inspect:reserved': InspectReserved,
  'inspect:revoked': InspectRevoked,
  'inspect:scheduled': InspectScheduled,
  'inspect:stats': InspectStats,
  queues: Queues,
  simulate: Simulate,
  status: Status,
  top: Top,
}
