export * from './apdu.js';
export * from './big5.js';
export * from './errors.js';
export * from './operations.js';
export * from './profile.js';
export * from './response.js';
export * from './roc-date.js';
