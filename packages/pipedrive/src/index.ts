/**
 * `@ballast/pipedrive`: Pipedrive presets built on `@ballast/core`.
 * The webhook preset, client and sync land with their issue; this entry
 * already carries Pipedrive's published burst limits.
 */

export type { PipedriveAuth, PipedrivePlan } from './limits';
export { pipedriveBurstLimit } from './limits';
