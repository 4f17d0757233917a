import { CardReaders, type CardReadersOptions } from './card-readers.js';
import { openPcscliteContext } from './pcsclite-binding.js';

export { loadCardAddon } from './transactional-port.js';

export * from './card-readers.js';
export * from './port.js';

/** The reader layer on the machine's PC/SC service, through pcsclite. */
export function openCardReaders(options?: CardReadersOptions): CardReaders {
  return new CardReaders(openPcscliteContext, options).start();
}
