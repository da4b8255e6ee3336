// Signing a buyer in at an OpenID Connect provider from the browser alone:
// the authorization code flow with PKCE (RFC 7636), a public client with no
// secret. The provider's endpoints come from its discovery document. The
// access token is kept in sessionStorage: it lasts as long as the tab.

export interface SignInSettings {
    issuer: string;
    clientId: string;
    // The API's audience: the value the service checks tokens' `aud` against
    // (OIDC_AUDIENCE). Providers take it under different names (Auth0's
    // `audience`, the test provider's `aud`); a provider that sets it by its
    // own configuration needs none.
    audience?: string;
    audienceParameter?: string;
}

export interface Session {
    accessToken: string;
    subject: string;
    expiresAt: number;
}

interface Discovery {
    authorization_endpoint: string;
    token_endpoint: string;
}

const SESSION = "storefront.session";
const PENDING = "storefront.pending";

function base64url(bytes: Uint8Array): string {
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(): string {
    return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function discover(issuer: string): Promise<Discovery> {
    const answer = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
    if (!answer.ok) {
        throw new Error(`the sign-in service answered ${answer.status} to its discovery request`);
    }
    return (await answer.json()) as Discovery;
}

// The claims of a JWT, unchecked: the page only reads who it names. The
// service is what checks the signature.
function claimsOf(token: string): Record<string, unknown> {
    const payload = token.split(".")[1] ?? "";
    const binary = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    return JSON.parse(json) as Record<string, unknown>;
}

// Where the provider sends the buyer back: this page, without its query.
function redirectUri(): string {
    return `${location.origin}${location.pathname}`;
}

// Sends the browser to the provider; it comes back to this page with a code.
export async function signIn(settings: SignInSettings): Promise<void> {
    const { authorization_endpoint } = await discover(settings.issuer);
    const verifier = randomText();
    const state = randomText();
    const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
    sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo: location.search }));
    const url = new URL(authorization_endpoint);
    url.search = new URLSearchParams({
        response_type: "code",
        client_id: settings.clientId,
        redirect_uri: redirectUri(),
        scope: "openid",
        state,
        code_challenge: challenge,
        code_challenge_method: "S256",
    }).toString();
    location.assign(url.toString());
}

// On the way back from the provider: trades the code for tokens, once, and
// puts the page's own query back. Returns false when this load is not a
// return from the provider.
export async function completeSignIn(settings: SignInSettings): Promise<boolean> {
    const query = new URLSearchParams(location.search);
    const code = query.get("code");
    const returned = query.get("state");
    if (!code && !query.get("error")) {
        return false;
    }
    const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null") as
        | { verifier: string; state: string; returnTo: string }
        | null;
    sessionStorage.removeItem(PENDING);
    history.replaceState(null, "", `${location.pathname}${pending?.returnTo ?? ""}`);
    if (query.get("error")) {
        throw new Error(`the sign-in service refused: ${query.get("error_description") ?? query.get("error")}`);
    }
    if (!pending || returned !== pending.state) {
        throw new Error("this sign-in was not started by this page; please sign in again");
    }
    const { token_endpoint } = await discover(settings.issuer);
    const form = new URLSearchParams({
        grant_type: "authorization_code",
        code: code ?? "",
        redirect_uri: redirectUri(),
        client_id: settings.clientId,
        code_verifier: pending.verifier,
    });
    if (settings.audience) {
        form.set(settings.audienceParameter ?? "audience", settings.audience);
    }
    const answer = await fetch(token_endpoint, { method: "POST", body: form });
    if (!answer.ok) {
        throw new Error(`the sign-in service answered ${answer.status} when asked for a token`);
    }
    const { access_token } = (await answer.json()) as { access_token: string };
    const claims = claimsOf(access_token);
    const session: Session = {
        accessToken: access_token,
        subject: String(claims.sub),
        expiresAt: Number(claims.exp) * 1000,
    };
    sessionStorage.setItem(SESSION, JSON.stringify(session));
    return true;
}

export function currentSession(): Session | null {
    const session = JSON.parse(sessionStorage.getItem(SESSION) ?? "null") as Session | null;
    return session && session.expiresAt > Date.now() ? session : null;
}

export function signOut(): void {
    sessionStorage.removeItem(SESSION);
}
