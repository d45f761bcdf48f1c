import { ballastProject } from '../../scripts/vitest-preset.ts';

export default ballastProject('core');
