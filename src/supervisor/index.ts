// harvester/supervisor: the supervisor for anyone's loops.
export { Supervisor } from './supervisor';
export { runAsProcess, isSecondaryInstance } from './process';
export { loadConfigFile } from './config-file';
export { StartupError, GaveUpError, WorkerGoneError } from './errors';
export { decideRestart, shouldRestart, restartDelay, EMPTY_HISTORY } from './restart-policy';
export type { RestartPolicy, RestartHistory, RestartDecision, RestartType, BackoffPolicy } from './restart-policy';
export type { SupervisorOptions, LoopSpec } from './options';
export type { SupervisorEvent, ExitReason } from './events';
export type { LoopStatusRow } from './loop-handle';
