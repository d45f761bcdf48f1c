import { ballastTsupConfig } from '../../scripts/tsup-preset.ts';

export default ballastTsupConfig(new URL('./package.json', import.meta.url));
