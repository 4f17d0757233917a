// @peculiar/x509 2.x resolves its algorithm providers through tsyringe, which
// throws at load time unless a Reflect metadata polyfill is already in place.
// Importing the library only through this file guarantees the order;
// reflect-metadata is a direct dependency for this reason alone.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
