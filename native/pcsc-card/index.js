'use strict';
// Loaded by nhiicc's PC/SC port; absent or unbuilt, nhiicc falls back to pcsclite without transactions.
module.exports = require('./build/Release/pcsc_card.node');
