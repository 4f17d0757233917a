import { createRequire } from 'node:module';
import { BUNDLE } from './bundle.js';

export const APP_VERSION: string = BUNDLE?.version ?? (createRequire(import.meta.url)('../package.json') as { version: string }).version;
