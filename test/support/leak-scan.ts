import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

// Shared by the reliability tests that audit secrets and bad input: run the real CLI, turn a
// secret into every text form it could leak in, and look for those forms in text and files.

const CLI = fileURLToPath(new URL('../../build/halfkey.mjs', import.meta.url));

/** What one `halfkey` process printed, and how it exited. */
export interface CliRun {
  readonly args: readonly string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node build/halfkey.mjs ARGS` in cwd; stdin is not a terminal, so prompts refuse instead of hanging. */
export function runHalfkey(cwd: string, args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: process.env, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ args, code, stdout, stderr });
      },
    );
  });
}

/** A secret under test and the text and byte forms it could leak in. */
export interface Marker {
  readonly name: string;
  /** Text forms (the secret itself, hex, base64, base32 …), searched case-sensitively. */
  readonly texts: readonly string[];
  /** Raw byte forms, searched in binary files. */
  readonly bytes: readonly Uint8Array[];
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding (what otpauth URIs carry). */
export function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The forms of a key or seed given as bytes: hex, base64 (both alphabets), base32. */
export function byteMarker(name: string, raw: Uint8Array, extraTexts: readonly string[] = []): Marker {
  const b = Buffer.from(raw);
  const b64 = b.toString('base64');
  return {
    name,
    texts: [
      ...extraTexts,
      b.toString('hex'),
      b.toString('hex').toUpperCase(),
      b64,
      b64.replace(/=+$/, ''),
      b.toString('base64url'),
      base32(raw),
      base32(raw).toLowerCase(),
    ],
    bytes: [raw],
  };
}

/** The forms of a typed secret (passphrase, password): itself, and its UTF-8 bytes as hex and base64. */
export function textMarker(name: string, secret: string): Marker {
  const b = Buffer.from(secret, 'utf8');
  return {
    name,
    texts: [secret, b.toString('hex'), b.toString('base64').replace(/=+$/, ''), encodeURIComponent(secret)],
    bytes: [b, Buffer.from(secret, 'utf16le')],
  };
}

/** Names of markers with any text form in text. */
export function leaksInText(text: string, markers: readonly Marker[]): string[] {
  return markers.filter((m) => m.texts.some((t) => text.includes(t))).map((m) => m.name);
}

/** Names of markers with any text or byte form in the bytes of a file (or a buffer). */
export function leaksInBytes(data: Uint8Array, markers: readonly Marker[]): string[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const asText = buf.toString('latin1');
  return markers
    .filter((m) => m.texts.some((t) => asText.includes(t)) || m.bytes.some((raw) => buf.indexOf(Buffer.from(raw)) >= 0))
    .map((m) => m.name);
}

/** Every file of a folder (not recursive, folders skipped) by name, with the markers found in it; `{}` when clean. */
export function leaksInFolder(
  dir: string,
  markers: readonly Marker[],
  match: (name: string) => boolean = () => true,
): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const name of readdirSync(dir)) {
    if (!match(name) || !statSync(join(dir, name)).isFile()) continue;
    const hits = leaksInBytes(readFileSync(join(dir, name)), markers);
    if (hits.length > 0) found[name] = hits;
  }
  return found;
}

/** Every row of every table of a SQLite file as text (blobs as hex and latin1), opened read-only. */
export function dumpTables(dbPath: string, only?: (table: string) => boolean): string {
  if (!existsSync(dbPath)) throw new Error(`no database at ${dbPath}`);
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
      (t) => t.name,
    );
    const lines: string[] = [];
    for (const table of tables.filter((t) => only?.(t) ?? true)) {
      const rows = db.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).all() as Record<string, unknown>[];
      for (const row of rows) {
        const cells = Object.entries(row).map(
          ([k, v]) => `${k}=${Buffer.isBuffer(v) ? `${v.toString('hex')}|${v.toString('latin1')}` : String(v)}`,
        );
        lines.push(`${table}: ${cells.join(' ')}`);
      }
    }
    return lines.join('\n');
  } finally {
    db.close();
  }
}
