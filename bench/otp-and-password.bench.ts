// Cost of a TOTP code and of a generated password, each as a ratio to the raw primitive it is
// built on, measured in the same run:
//   totpCode        vs one HMAC (node:crypto) of an 8-byte counter with the same key and hash;
//   generatePassword vs the libsodium randombytes_uniform draws it makes (length + length - 1).
// Run: npx tsx bench/otp-and-password.bench.ts
import { createHmac } from 'node:crypto';
import { generatePassword } from '../shared/password/generator';
import { totpCode, type TotpAlgorithm } from '../shared/otp/totp';
import { sodiumReady } from '../shared/sodium';

/** Median nanoseconds per call of `run`, over `rounds` rounds of `iterations` calls. */
async function measure(run: () => unknown, iterations: number, rounds = 7): Promise<number> {
  for (let i = 0; i < iterations; i++) await run(); // warm-up
  const perCall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await run();
    perCall.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(perCall.length / 2)] ?? Number.NaN;
}

const sodium = await sodiumReady();
const secret = sodium.randombytes_buf(20);
const counter = Buffer.alloc(8);

for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const satisfies readonly TotpAlgorithm[]) {
  const params = { secret, algorithm, digits: 6 as const, period: 30 };
  const raw = await measure(() => createHmac(algorithm.toLowerCase(), secret).update(counter).digest(), 20_000);
  let t = 0;
  const ours = await measure(() => totpCode(params, (t += 30_000)), 5_000);
  console.log(
    `totpCode ${algorithm}: ${(ours / 1000).toFixed(1)} µs/code; raw HMAC ${(raw / 1000).toFixed(2)} µs; ratio ${(ours / raw).toFixed(1)}x`,
  );
}

for (const length of [16, 32, 128]) {
  const draws = 2 * length - 1;
  const raw = await measure(() => {
    for (let i = 0; i < draws; i++) sodium.randombytes_uniform(83);
  }, 5_000);
  const ours = await measure(() => generatePassword({ length }), 5_000);
  console.log(
    `generatePassword length ${length}: ${(ours / 1000).toFixed(1)} µs; ${draws} raw draws ${(raw / 1000).toFixed(1)} µs; ratio ${(ours / raw).toFixed(2)}x`,
  );
}
