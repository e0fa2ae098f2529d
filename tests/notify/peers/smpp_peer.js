// An SMSC for the notify tests and benchmark, built on the independent `smpp` npm package
// (server mode). Accepts bind_transmitter, answers enquire_link and unbind, joins concatenated
// parts (UDH IEI 0x00) and records each message once per idempotency key (optional parameter
// 0x1501); a repeat is recorded as a duplicate.
// usage: node smpp_peer.js PORT LOGFILE [DELAY_MS]  → prints "READY <port>" when listening.
// DELAY_MS holds each submit_sm_resp back (a slow SMSC, so a test can kill a sender mid-batch);
// the message is recorded on arrival, before its response goes out.
'use strict';
const fs = require('fs');
const smpp = require('smpp');

const port = parseInt(process.argv[2] || '0', 10);
const out = fs.createWriteStream(process.argv[3] || '/dev/null', { flags: 'a' });
const delayMs = parseInt(process.argv[4] || '0', 10);
const TAG_KEY = 0x1501;
const accepted = new Set();
const partial = new Map(); // key → { total, parts: Map(seq → text) }
let nextId = 1;

function record(entry) {
  out.write(JSON.stringify(entry) + '\n');
}

function onSubmit(session, pdu) {
  const keyBuf = pdu[TAG_KEY];
  const key = keyBuf ? Buffer.from(keyBuf).toString('ascii') : `nokey-${nextId}`;
  const sm = pdu.short_message || {};
  const text = typeof sm === 'string' ? sm : String(sm.message || '');
  let total = 1;
  let seq = 1;
  for (const udh of sm.udh || []) {
    if (udh[0] === 0x00 && udh[1] === 0x03) {
      total = udh[3];
      seq = udh[4];
    }
  }
  const resp = pdu.response({ message_id: String(nextId++) });
  if (delayMs > 0) setTimeout(() => session.send(resp), delayMs);
  else session.send(resp);
  let entry = partial.get(key);
  if (!entry) {
    entry = { total, parts: new Map(), coding: pdu.data_coding };
    partial.set(key, entry);
  }
  entry.parts.set(seq, text);
  if (entry.parts.size < entry.total) return;
  partial.delete(key);
  const joined = [...entry.parts.keys()].sort((a, b) => a - b).map((k) => entry.parts.get(k)).join('');
  const duplicate = accepted.has(key);
  accepted.add(key);
  record({ key, to: pdu.destination_addr, text: joined, parts: entry.total,
           data_coding: entry.coding, duplicate });
}

const server = smpp.createServer((session) => {
  session.on('bind_transmitter', (pdu) => {
    session.send(pdu.response());
  });
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    session.close();
  });
  session.on('error', () => {});
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.on('SIGTERM', () => out.end(() => process.exit(0)));
