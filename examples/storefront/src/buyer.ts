// The buyer's user_id, worked out from the token the way the server does
// (server/src/auth/buyer.rs, docs/AUTH.md "Who the buyer is"): a `sub` that
// is a hyphenated UUID is the user_id itself; any other `sub` gives the
// UUIDv5 of the issuer, a NUL byte and the `sub`, in the namespace below.

const SUBJECT_NAMESPACE = "77c3fb1f-b5fc-5aba-8082-60e663388672";
const HYPHENATED_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidBytes(uuid: string): Uint8Array {
    const hex = uuid.replace(/-/g, "");
    return Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

function uuidText(bytes: Uint8Array): string {
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// RFC 9562 section 5.5: SHA-1 of the namespace and the name, version 5.
async function uuidV5(namespace: string, name: Uint8Array): Promise<string> {
    const input = new Uint8Array(16 + name.length);
    input.set(uuidBytes(namespace));
    input.set(name, 16);
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", input)).slice(0, 16);
    hash[6] = (hash[6] & 0x0f) | 0x50;
    hash[8] = (hash[8] & 0x3f) | 0x80;
    return uuidText(hash);
}

export async function userIdFor(issuer: string, subject: string): Promise<string> {
    if (HYPHENATED_UUID.test(subject)) {
        return subject.toLowerCase();
    }
    const name = new TextEncoder().encode(`${issuer}\0${subject}`);
    return uuidV5(SUBJECT_NAMESPACE, name);
}
