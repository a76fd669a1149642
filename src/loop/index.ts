// harvester/loop: what a loop author imports.
export { defineLoop, DONE, isDefinedLoop } from './define';
export type { DefinedLoop, LoopContext, LoopDefinition } from './define';
export type { HostServices, LoopRuntimeStatus } from './protocol';
