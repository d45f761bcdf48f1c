import { ballastProject } from '../scripts/vitest-preset.ts';

export default ballastProject('examples', { include: ['**/*.test.ts'], exclude: ['**/node_modules/**'] });
