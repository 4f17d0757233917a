// The .deb on a booted Debian 12: see booted-deb.ts.
import t from 'tap';
import { bootedTestMissing, debOnBootedDebian } from './booted-deb.js';

// Once the root filesystem and packages are cached this takes a minute or two;
// the first run also makes them (mmdebstrap and downloads from the mirror).
t.setTimeout(600_000);

const skip = bootedTestMissing();
t.test('.deb on a booted Debian 12 (bookworm)', { skip: skip ?? false }, (t) => debOnBootedDebian(t, { suite: 'bookworm', polkit: false }));
