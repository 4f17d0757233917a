/**
 * Set when installers/bundle.ts built this program: then it is one folder
 * holding the bundled .js files, koffi.node (koffi's binary for the target)
 * and html/, with no node_modules or package.json. Undefined when running
 * tsc's output (dist/) or under tsx.
 */
declare const NHIICC_BUNDLE: { version: string } | undefined;

export const BUNDLE = typeof NHIICC_BUNDLE === 'undefined' ? undefined : NHIICC_BUNDLE;
