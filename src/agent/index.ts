// The worker side of the pidbox protocol: simulated fleets and responders a Node service can host.
export {SimulatedFleet, type FleetOptions} from './fleet.js'
export {ResponderHost, type HostOptions, type StopReason} from './host.js'
export {WorkerResponder, workerProfile, type ControlHandler, type Dispatched, type HandlerContext, type HandlerDefinition, type ProfileOptions, type WorkerProfile} from './responder.js'
export {WorkerState, type QueueDescription} from './state.js'
export {DEFAULT_SOFTWARE, type Software, type WorkerEvent, type WorkerEventType} from './events.js'
export type {LogEntry} from './link.js'
