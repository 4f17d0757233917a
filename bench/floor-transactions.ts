/**
 * A second floor for `npm run bench`: the same APDUs through our card addon
 * and its port exactly as the daemon sends them (src/pcsc/transactional-port.ts):
 * the whole plan in one call, inside a PC/SC transaction that rounds back to
 * back share. Beside the pcsclite floor it shows what our addon path costs by
 * itself. Driven by floor-rounds.ts.
 */
import { READ_PROFILE_PLAN } from '../src/card/operations.js';
import { loadCardAddon, transactionalPort } from '../src/pcsc/transactional-port.js';
import { answerRoundRequests } from './floor-rounds.js';

const [readerName = 'Virtual PCD 00 00'] = process.argv.slice(2);
const port = transactionalPort(loadCardAddon()!, readerName);
await port.connect();
answerRoundRequests(
  async () => {
    const answers = await port.beginTransaction(READ_PROFILE_PLAN);
    await port.endTransaction();
    if (answers.length !== READ_PROFILE_PLAN.length) throw new Error(`the plan stopped after ${answers.length} APDUs`);
  },
  async () => {
    await port.disconnect();
    process.exit(0);
  },
);
