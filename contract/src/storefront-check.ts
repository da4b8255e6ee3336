// Drives the storefront (examples/storefront) in headless Chromium as a
// buyer would: signs in at the OpenID provider (authorization code with
// PKCE), holds 2 tickets, confirms, sees the purchase, cancels it; then
// meets each refusal the page must put in words (over the per-buyer limit,
// sold out, hold expired, rate limited, a refused token). Checks the
// database afterwards with psql, that the console shows no CORS error, and
// that the same page served from an origin the server does not allow is
// refused by the browser. Saves a screenshot of the checkout.
//   node build/js/src/storefront-check.js
// with, in the environment: API (the server's URL), ISSUER (the OpenID
// provider's), STOREFRONT (the page's allowed origin), DISALLOWED (the page
// on an origin not allowed), DATABASE_URL (the server's database),
// SCREENSHOT (where to save it), and ORGANISER_TOKEN (to create the
// tickets, when the server asks for one).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import type { BrowserContext, Page } from "playwright-core";
import { withChromium } from "./headless";

class Failure extends Error {}

function check(condition: boolean, message: string): void {
    if (!condition) throw new Failure(message);
}

// Waits until `done()` holds or `timeout` ms have passed, whichever is
// first; the caller checks what it needs afterwards.
async function eventually(done: () => boolean, timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

function setting(name: string): string {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
}

const api = setting("API");
const storefront = setting("STOREFRONT");
const disallowed = setting("DISALLOWED");
const issuer = setting("ISSUER");
const databaseUrl = setting("DATABASE_URL");
const screenshot = setting("SCREENSHOT");

// The organiser's side, set up outside the page: the tickets on sale.
async function createTicket(ticket: object): Promise<number> {
    const token = process.env.ORGANISER_TOKEN;
    const answer = await fetch(`${api}/tickets`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(ticket),
    });
    const answered = await answer.text();
    check(answer.status === 201, `creating a ticket answered ${answer.status}: ${answered}`);
    return (JSON.parse(answered) as { id: number }).id;
}

// The user_id of the provider's buyer (its `sub` is "johndoe"), as
// docs/AUTH.md defines it: the UUIDv5 of the issuer, a NUL byte and the
// subject, in the service's namespace.
function buyerUserId(): string {
    const namespace = Buffer.from("77c3fb1f-b5fc-5aba-8082-60e663388672".replace(/-/g, ""), "hex");
    const hash = createHash("sha1").update(namespace).update(`${issuer}\0johndoe`).digest().subarray(0, 16);
    hash[6] = (hash[6] & 0x0f) | 0x50;
    hash[8] = (hash[8] & 0x3f) | 0x80;
    const hex = hash.toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// One value from the database, as psql prints it.
function sql(query: string): string {
    return execFileSync("psql", [databaseUrl, "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", query], { encoding: "utf8" }).trim();
}

const text = async (page: Page, id: string) => ((await page.textContent(`#${id}`)) ?? "").trim();

async function open(page: Page, url: string): Promise<void> {
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
}

async function expectAvailability(page: Page, expected: string): Promise<void> {
    await page.waitForFunction(
        (want) => document.getElementById("availability")?.textContent?.startsWith(want),
        expected,
        { timeout: 10000 },
    ).catch(async () => {
        throw new Failure(`availability "${await text(page, "availability")}", expected "${expected}..."`);
    });
}

// The refusal the page shows: its title must be the problem's, and no raw
// JSON may reach the buyer.
async function expectMessage(page: Page, title: string, timeout = 10000): Promise<string> {
    await page.waitForSelector("#message:not([hidden])", { timeout }).catch(() => {
        throw new Failure(`expected the message "${title}", none shown`);
    });
    const shown = await text(page, "message");
    check(shown.startsWith(`${title}.`), `message "${shown}", expected it to start "${title}."`);
    check(!/[{}"]|problem\+json|\/problems\//.test(shown), `message shows raw JSON: "${shown}"`);
    console.log(`shown: ${shown}`);
    return shown;
}

async function hold(page: Page, quantity: number): Promise<void> {
    await page.fill("#quantity", String(quantity));
    await page.click("#hold");
}

async function checkout(context: BrowserContext, tickets: { main: number; few: number; brief: number }): Promise<string> {
    const page = await context.newPage();
    await open(page, `${storefront}/?ticket=${tickets.main}`);
    await expectAvailability(page, "10 of 10 left");
    check(await page.isDisabled("#hold"), "the hold button works before sign-in");

    // Sign-in: to the provider and back, the code traded for a token.
    await Promise.all([page.waitForURL((url) => url.searchParams.has("code"), { timeout: 15000 }), page.click("#sign-in")]);
    await page.waitForSelector("body[data-ready=true]");
    const buyer = await text(page, "buyer");
    if (await page.isVisible("#message")) throw new Failure(`sign-in: ${await text(page, "message")}`);
    check(buyer === "Signed in as johndoe", `after sign-in the page says "${buyer}"`);
    check(new URL(page.url()).searchParams.get("ticket") === String(tickets.main), `back at ${page.url()}`);

    await hold(page, 2);
    await page.waitForSelector("#hold-panel:not([hidden])");
    await expectAvailability(page, "8 of 10 left (0 sold, 2 held)");
    await page.click("#confirm");
    await page.waitForSelector("#purchase-panel:not([hidden])");
    check((await text(page, "purchase-text")).startsWith("Purchase #1: 2 tickets"), `purchase "${await text(page, "purchase-text")}"`);
    await expectAvailability(page, "8 of 10 left (2 sold, 0 held)");
    await page.screenshot({ path: screenshot, fullPage: true });
    const purchaseId = (await page.getAttribute("#purchase-panel", "data-purchase-id")) ?? "";

    await page.click("#cancel");
    await page.waitForSelector("#purchase-panel.cancelled");
    await expectAvailability(page, "10 of 10 left (0 sold, 0 held)");
    console.log("checkout: signed in, held 2, confirmed, cancelled");

    // The refusals, each in words.
    await hold(page, 5);
    await expectMessage(page, "Limit exceeded");
    await open(page, `${storefront}/?ticket=${tickets.few}`);
    await hold(page, 2);
    await expectMessage(page, "Not enough tickets left");
    await open(page, `${storefront}/?ticket=${tickets.brief}&hold_seconds=1`);
    await hold(page, 1);
    await page.waitForSelector("#hold-panel:not([hidden])");
    await expectMessage(page, "Hold gone", 15000);

    // The buyer's rate limit: holds on the sold-out ticket (each refused,
    // nothing changes) until the service says to slow down.
    await open(page, `${storefront}/?ticket=${tickets.few}`);
    let limited = false;
    for (let attempt = 0; attempt < 12 && !limited; attempt++) {
        await hold(page, 2);
        await page.waitForSelector("#message:not([hidden])");
        limited = (await text(page, "message")).startsWith("Too many requests.");
    }
    check(limited, "12 holds in a row were never rate limited");
    check(/\d+ s\b/.test(await expectMessage(page, "Too many requests")), "the message says not when to retry");

    // A token the service refuses (a character of its signature changed,
    // where the page keeps it): the buyer is told, and asked to sign in
    // again.
    await page.evaluate(() => {
        const session = JSON.parse(sessionStorage.getItem("storefront.session") ?? "{}");
        const token: string = session.accessToken;
        const at = token.length - 10;
        const spoilt = `${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`;
        sessionStorage.setItem("storefront.session", JSON.stringify({ ...session, accessToken: spoilt }));
    });
    await open(page, `${storefront}/?ticket=${tickets.main}`);
    await hold(page, 1);
    await expectMessage(page, "Unauthenticated");
    check(await page.isVisible("#sign-in"), "after a refused token the page offers no sign-in");
    return purchaseId;
}

// The page on an origin the server does not list: the browser must refuse
// the API's answer, which carries no Access-Control-Allow-Origin.
async function refusedOrigin(context: BrowserContext, ticket: number, corsErrors: string[]): Promise<void> {
    const page = await context.newPage();
    // What the browser saw of the API's answers, from its network events
    // (a refused answer never reaches the page's script or Playwright's
    // response events): each answer's headers, and why a request failed.
    const network = await context.newCDPSession(page);
    const apiRequests = new Set<string>();
    const allowOrigin: string[] = [];
    const corsRefusals: string[] = [];
    network.on("Network.requestWillBeSent", (event) => {
        if (event.request.url.startsWith(`${api}/`)) apiRequests.add(event.requestId);
    });
    network.on("Network.responseReceivedExtraInfo", (event) => {
        if (!apiRequests.has(event.requestId)) return;
        const header = Object.keys(event.headers).find((name) => name.toLowerCase() === "access-control-allow-origin");
        allowOrigin.push(header ? event.headers[header] : "(none)");
    });
    network.on("Network.loadingFailed", (event) => {
        if (apiRequests.has(event.requestId) && event.corsErrorStatus) corsRefusals.push(event.corsErrorStatus.corsError);
    });
    await network.send("Network.enable");
    await open(page, `${disallowed}/?ticket=${ticket}`);
    await expectMessage(page, "The ticket service cannot be reached");
    // DevTools may report a failed request's raw headers, and the console
    // its refusal, after the failure, and so after the page shows it.
    const loggedRefusal = () => corsErrors.some((error) => error.includes(new URL(disallowed).origin));
    await eventually(() => loggedRefusal() && corsRefusals.length > 0 && allowOrigin.length >= corsRefusals.length);
    check(loggedRefusal(), "the browser logged no CORS refusal for the disallowed origin");
    check(corsRefusals.length > 0, "the browser refused no request to the API");
    check(allowOrigin.length > 0 && allowOrigin.every((value) => value === "(none)"), `Access-Control-Allow-Origin in the answers: ${allowOrigin}`);
    console.log(`disallowed origin: refused by the browser (${corsRefusals.join(", ")}); the server sent no Access-Control-Allow-Origin`);
    await page.close();
}

function checkDatabase(purchaseId: string, tickets: { main: number; few: number; brief: number }): void {
    check(/^[0-9a-f-]{36}$/.test(purchaseId), `purchase id "${purchaseId}"`);
    const purchase = sql(
        `SELECT p.quantity, p.cancelled_at IS NOT NULL, h.status, p.user_id FROM purchases p JOIN holds h ON h.id = p.hold_id WHERE p.id = '${purchaseId}' AND p.ticket_id = ${tickets.main}`,
    );
    const expected = `2|t|confirmed|${buyerUserId()}`;
    check(purchase === expected, `the purchase in the database: "${purchase}", expected "${expected}" (quantity|cancelled|hold status|buyer)`);
    const main = sql(`SELECT remaining, held, (SELECT count(*) FROM purchases WHERE ticket_id = ${tickets.main}) FROM tickets WHERE id = ${tickets.main}`);
    check(main === "10|0|1", `the checkout's ticket in the database: "${main}" (remaining|held|purchases)`);
    const few = sql(`SELECT remaining, held, (SELECT count(*) FROM holds WHERE ticket_id = ${tickets.few}) FROM tickets WHERE id = ${tickets.few}`);
    check(few === "1|0|0", `the sold-out ticket in the database: "${few}" (remaining|held|holds)`);
    const brief = sql(`SELECT count(*), bool_and(expires_at <= now()) FROM holds WHERE ticket_id = ${tickets.brief}`);
    check(brief === "1|t", `the expired hold in the database: "${brief}" (holds|all expired)`);
    console.log("database: the purchase is cancelled, its tickets back on sale, the refusals changed nothing");
}

async function main(): Promise<void> {
    // The checkout's ticket is not the page's default (ticket 1), so a page
    // that lost its query on the way back from sign-in fails.
    const tickets = {
        few: await createTicket({ name: "Last seat", desc: "One left", allocation: 1 }),
        main: await createTicket({ name: "Storefront gig", desc: "Doors at 8pm", allocation: 10, max_per_user: 4 }),
        brief: await createTicket({ name: "Flash sale", desc: "Holds last a second", allocation: 10 }),
    };
    await withChromium({ width: 1000, height: 700 }, async (context) => {
        const corsErrors: string[] = [];
        const scriptErrors: string[] = [];
        context.on("console", (message) => {
            if (/CORS|Access-Control/i.test(message.text())) corsErrors.push(`${message.page()?.url()}: ${message.text()}`);
        });
        context.on("weberror", (error) => scriptErrors.push(error.error().message));
        const purchaseId = await checkout(context, tickets);
        check(corsErrors.length === 0, `CORS errors in the console: ${corsErrors.join("; ")}`);
        check(scriptErrors.length === 0, `script errors: ${scriptErrors.join("; ")}`);
        console.log("console: no CORS error, no script error");
        await refusedOrigin(context, tickets.main, corsErrors);
        checkDatabase(purchaseId, tickets);
    });
}

main().then(
    () => console.log("storefront: every check passed"),
    (error) => {
        console.error(error instanceof Failure ? `FAILED: ${error.message}` : error);
        process.exitCode = 1;
    },
);
