// Loaded with `node --import ./shim.mjs`: the conformance suite imports `fs.globSync`, which
// Node.js has from version 22; on older ones this resolves its imports of `fs` to a module that
// adds it (./fs-hooks.mjs).
import fs from 'node:fs';
import { register } from 'node:module';

if (typeof fs.globSync !== 'function') {
  register('./fs-hooks.mjs', import.meta.url);
}
