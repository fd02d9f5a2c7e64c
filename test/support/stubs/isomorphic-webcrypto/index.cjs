/* global module */
// Node's own Web Crypto, which is what fhirclient uses whenever globalThis.crypto exists.
module.exports = { default: globalThis.crypto }
