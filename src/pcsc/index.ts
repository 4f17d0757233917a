import { CardReaders, type CardReadersOptions } from './card-readers.js';
import { openPcscContext } from './pcsc-context.js';

export * from './card-readers.js';
export * from './port.js';

/** The reader layer on the machine's PC/SC service, through its own library (winscard.ts). */
export function openCardReaders(options: CardReadersOptions): CardReaders {
  return new CardReaders(openPcscContext, options).start();
}
