// An independent verifier and issuer for Tim's interop tests, built on Digital Bazaar's
// JavaScript VC stack (@digitalbazaar/vc, data-integrity, eddsa-rdfc-2022-cryptosuite).
// Contexts come from the security document loader's static set and did:key documents are
// derived from the DID itself; the only documents fetched over HTTP(S) are the status list
// credentials that `verify-credential-status` dereferences.
//
//   node tim-interop.mjs verify-credential   < credential.json
//   node tim-interop.mjs verify-credential-status < credential.json
//       (also checks revocation: fetches the credential's BitstringStatusListCredential,
//        verifies its proof and issuer, and reads the credential's bit, through
//        @digitalbazaar/vc-bitstring-status-list)
//   node tim-interop.mjs verify-presentation < {"presentation", "domain", "challenge"}
//   node tim-interop.mjs issue               < {"seed": hex32, "subject": did, "validFrom": …}
//   node tim-interop.mjs verify-jwt          < {"jwt": "…"}   (with the `jose` library)
//
// Prints one JSON object: {"verified": bool, "error": string?} or the issued credential.
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as DidKey from '@digitalbazaar/did-method-key';
import {securityLoader} from '@digitalbazaar/security-document-loader';
import {checkStatus as checkBitstringStatus} from '@digitalbazaar/vc-bitstring-status-list';
import * as jose from 'jose';

const didKeyDriver = DidKey.driver();
didKeyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
const loader = securityLoader();
loader.setDidResolver(didKeyDriver);
const documentLoader = loader.build();

async function readStdin() {
  let data = '';
  for await (const chunk of process.stdin) data += chunk;
  return JSON.parse(data);
}

function errorText(result) {
  const errors = [];
  const walk = r => {
    if (!r) return;
    if (r.error) errors.push(String(r.error.message || r.error));
    for (const e of r.error?.errors || []) errors.push(String(e.message || e));
    for (const x of r.results || []) walk(x);
    for (const x of r.credentialResults || []) walk(x);
    if (r.statusResult) walk(r.statusResult);
    if (r.presentationResult) walk(r.presentationResult);
  };
  walk(result);
  return errors.join('; ');
}

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});

// The static loader first; a URL it does not know, if HTTP(S), is fetched (a status list).
async function fetchingLoader(url) {
  try {
    return await documentLoader(url);
  } catch (e) {
    if (!/^https?:\/\//.test(url)) throw e;
    const res = await fetch(url, {headers: {accept: 'application/vc, application/json'}});
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return {contextUrl: null, documentUrl: url, document: await res.json()};
  }
}

// A `checkStatus` for @digitalbazaar/vc: the Bitstring Status List check (which fetches the
// list, verifies its proof and that its issuer is the credential's, and reads the bit), then
// a set bit fails the credential.
async function checkStatus({credential}) {
  const result = await checkBitstringStatus({
    credential, suite, documentLoader: fetchingLoader,
    verifyBitstringStatusListCredential: true, verifyMatchingIssuers: true,
  });
  if (!result.verified) return result;
  const revoked = result.results.filter(r => r.status);
  if (revoked.length > 0) {
    const where = revoked.map(r =>
      `${r.credentialStatus.statusListCredential} index ${r.credentialStatus.statusListIndex}`);
    return {verified: false, results: result.results,
      error: new Error(`the credential is revoked (${where.join(', ')})`)};
  }
  return result;
}

async function main() {
  const command = process.argv[2];
  const input = await readStdin();
  if (command === 'verify-credential') {
    const result = await vc.verifyCredential({credential: input, suite, documentLoader});
    console.log(JSON.stringify({verified: result.verified, error: errorText(result)}));
  } else if (command === 'verify-credential-status') {
    const result = await vc.verifyCredential({credential: input, suite, documentLoader, checkStatus});
    console.log(JSON.stringify({
      verified: result.verified,
      statusChecked: (result.statusResult?.results || []).length,
      error: errorText(result),
    }));
  } else if (command === 'verify-presentation') {
    const result = await vc.verify({
      presentation: input.presentation,
      challenge: input.challenge,
      domain: input.domain,
      suite,
      documentLoader,
    });
    console.log(JSON.stringify({verified: result.verified, error: errorText(result)}));
  } else if (command === 'verify-jwt') {
    // The key comes from the did:key named by the header's kid, through did-method-key.
    const {kid} = jose.decodeProtectedHeader(input.jwt);
    const method = await didKeyDriver.get({url: kid});
    const key = await Ed25519Multikey.from(method);
    const jwk = await Ed25519Multikey.toJwk({keyPair: key});
    try {
      const {payload, protectedHeader} = await jose.compactVerify(
        input.jwt, await jose.importJWK({...jwk, alg: 'EdDSA'}, 'EdDSA'));
      const vc = JSON.parse(new TextDecoder().decode(payload));
      const issuerMatches = kid.split('#')[0] === vc.issuer;
      console.log(JSON.stringify({
        verified: issuerMatches, typ: protectedHeader.typ, alg: protectedHeader.alg,
        error: issuerMatches ? '' : 'kid is not the issuer',
      }));
    } catch (e) {
      console.log(JSON.stringify({verified: false, error: String(e.message || e)}));
    }
  } else if (command === 'issue') {
    const seed = Uint8Array.from(Buffer.from(input.seed, 'hex'));
    const key = await Ed25519Multikey.generate({seed});
    const did = 'did:key:' + key.publicKeyMultibase;
    key.id = did + '#' + key.publicKeyMultibase;
    key.controller = did;
    const credential = {
      '@context': ['https://www.w3.org/ns/credentials/v2'],
      id: 'urn:uuid:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9',
      type: ['VerifiableCredential'],
      issuer: did,
      validFrom: input.validFrom,
      credentialSubject: {id: input.subject},
    };
    const signer = key.signer();
    const issueSuite = new DataIntegrityProof({signer, cryptosuite: eddsaRdfc2022});
    const signed = await vc.issue({credential, suite: issueSuite, documentLoader});
    console.log(JSON.stringify(signed));
  } else {
    throw new Error(`unknown command ${command}`);
  }
}

main().catch(e => {
  console.log(JSON.stringify({verified: false, error: String(e && e.stack || e)}));
  process.exit(2);
});
