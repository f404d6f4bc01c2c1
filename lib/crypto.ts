// Secrets at rest (model API keys, uploaded files): AES-256-GCM with a 32-byte key from ENCRYPTION_KEY.
// Format: "v1:" + base64(iv[12] | tag[16] | ciphertext) for strings; the same bytes without the prefix
// for binary blobs. A wrong key or tampered data fails loudly instead of decrypting to garbage.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const IV_BYTES = 12;
const TAG_BYTES = 16;

function keyBytes(hexKey: string): Buffer {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hexKey)) throw new Error("ENCRYPTION_KEY must be 0x followed by 64 hex characters");
  return Buffer.from(hexKey.slice(2), "hex");
}

export function encryptBytes(plain: Uint8Array, hexKey: string, associatedData?: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", keyBytes(hexKey), iv);
  if (associatedData) cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function decryptBytes(sealed: Uint8Array, hexKey: string, associatedData?: string): Buffer {
  const data = Buffer.from(sealed);
  if (data.byteLength < IV_BYTES + TAG_BYTES) throw new Error("encrypted data is truncated");
  const decipher = createDecipheriv("aes-256-gcm", keyBytes(hexKey), data.subarray(0, IV_BYTES));
  if (associatedData) decipher.setAAD(Buffer.from(associatedData, "utf8"));
  decipher.setAuthTag(data.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(data.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new Error("could not decrypt: wrong ENCRYPTION_KEY or tampered data");
  }
}

export function encryptString(plain: string, hexKey: string, associatedData?: string): string {
  return `v1:${encryptBytes(Buffer.from(plain, "utf8"), hexKey, associatedData).toString("base64")}`;
}

export function decryptString(sealed: string, hexKey: string, associatedData?: string): string {
  if (!sealed.startsWith("v1:")) throw new Error("unknown encrypted-string format");
  return decryptBytes(Buffer.from(sealed.slice(3), "base64"), hexKey, associatedData).toString("utf8");
}

/** Associated data that binds a model listing's sealed API key to that listing (a key copied to another row fails). */
export function modelApiKeyAad(listingId: string): string {
  return `kip-model-key:${listingId}`;
}
