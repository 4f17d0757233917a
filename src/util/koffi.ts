import { createRequire } from 'node:module';
import { BUNDLE } from '../bundle.js';

export type Koffi = typeof import('koffi');

let koffi: Koffi | undefined;

/**
 * koffi, loaded on first use, so that a machine where its binary cannot load
 * still starts and says why. The bundled program carries koffi's binary for
 * its target beside it and loads that directly: koffi's own loader looks for
 * it in node_modules (`@koromix/koffi-<os>-<arch>`), which a package does not
 * ship, and adds only deprecated aliases on top of the binary's exports.
 */
export function loadKoffi(): Koffi {
  if (!koffi) {
    try {
      koffi = createRequire(import.meta.url)(BUNDLE ? './koffi.node' : 'koffi') as Koffi;
    } catch (err) {
      throw new Error(`the koffi FFI module could not be loaded (${(err as Error).message.split('\n')[0]}): reinstall nhiicc`, { cause: err });
    }
  }
  return koffi;
}
