// require('harvester') / import 'harvester': the loop API and the supervisor in one
// import. 'harvester/loop' (what a loop module needs, nothing of the main thread's)
// and 'harvester/supervisor' stay the narrow entry points.
export * from './loop';
export * from './supervisor';
