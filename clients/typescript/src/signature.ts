/**
 * Webhook signatures as the gateway checks them (Gateway/Security/SignatureChecker.cs):
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>` keyed with the secret's UTF-8 bytes, over the raw body, or, for a
 * workflow published with `timestampedSignature: true`, over `"<timestamp>.<raw body>"` with the Unix time in seconds
 * in `X-Signature-Timestamp` (the gateway refuses a timestamp more than 5 minutes off its clock).
 * WebCrypto only, so it runs in Node 20+, Deno, Bun, edge runtimes and browsers alike.
 */

export const SIGNATURE_HEADER = "X-Hub-Signature-256";
export const TIMESTAMP_HEADER = "X-Signature-Timestamp";

export interface SignOptions {
  /** Sign `"<timestamp>.<body>"` and send the timestamp: `true` for now, or a Unix time in seconds. */
  timestamp?: true | number;
}

const encoder = new TextEncoder();

/** The headers that sign `body` (the exact bytes that will be sent) with a workflow's `secret`. */
export async function signWebhook(
  secret: string,
  body: string | Uint8Array,
  options: SignOptions = {},
): Promise<Record<string, string>> {
  if (secret.length === 0) {
    throw new TypeError("signWebhook: the secret is empty");
  }
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const headers: Record<string, string> = {};
  let prefix = new Uint8Array(0);
  if (options.timestamp !== undefined) {
    const seconds = options.timestamp === true ? Math.floor(Date.now() / 1000) : options.timestamp;
    if (!Number.isSafeInteger(seconds) || seconds < 0) {
      throw new TypeError(`signWebhook: the timestamp must be a Unix time in whole seconds, not ${seconds}`);
    }
    prefix = encoder.encode(`${seconds}.`);
    headers[TIMESTAMP_HEADER] = String(seconds);
  }
  // One fresh buffer holding what is signed (a caller's Uint8Array may be a view on a SharedArrayBuffer).
  const signed = new Uint8Array(prefix.length + bytes.length);
  signed.set(prefix, 0);
  signed.set(bytes, prefix.length);
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, signed));
  headers[SIGNATURE_HEADER] = `sha256=${Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  return headers;
}
