// Module hooks (registered by ./shim.mjs on Node.js < 22): `fs` and `node:fs` resolve to a
// module that re-exports `node:fs` and adds `globSync(pattern, { cwd })`, over
// `readdirSync(..., { recursive: true })`, for the patterns the conformance suite uses
// (`*`, `?` and `**/`).
const SHIM = 'tim-shim:fs';

const SOURCE = `
import fs from 'node:fs';
import path from 'node:path';
export * from 'node:fs';
export default fs;

function toRegExp(pattern) {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') {
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else {
      re += c.replace(/[.+^$()|[\\]{}\\\\]/g, '\\\\$&');
    }
  }
  return new RegExp('^' + re + '$');
}

export function globSync(pattern, options = {}) {
  const cwd = options.cwd ? String(options.cwd) : process.cwd();
  const patterns = Array.isArray(pattern) ? pattern : [pattern];
  const res = patterns.map(toRegExp);
  return fs
    .readdirSync(cwd, { recursive: true })
    .map((p) => String(p).split(path.sep).join('/'))
    .filter((p) => res.some((re) => re.test(p)));
}
`;

export async function resolve(specifier, context, next) {
  if ((specifier === 'fs' || specifier === 'node:fs') && context.parentURL !== SHIM) {
    return { url: SHIM, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url === SHIM) {
    return { format: 'module', source: SOURCE, shortCircuit: true };
  }
  return next(url, context);
}
