// The storefront: one ticket's availability, and a buyer's checkout on it
// (hold, confirm, cancel), every call through the TypeScript client
// generated from openapi.yaml. /config.json says where the API and the
// OpenID provider are; `?ticket=ID` picks another ticket than the
// configured one, `?hold_seconds=N` another hold time.
import { Configuration, HoldsApi, PurchasesApi, ResponseError, TicketsApi } from "../build/client/index.js";
import type { Hold, Purchase, Ticket } from "../build/client/index.js";
import { readable } from "./problems.js";
import { completeSignIn, currentSession, signIn, signOut } from "./signin.js";
import type { Session, SignInSettings } from "./signin.js";

interface StorefrontConfig extends SignInSettings {
    api: string;
    ticket: number;
    holdSeconds?: number;
}

function element<T extends HTMLElement = HTMLElement>(id: string): T {
    const found = document.getElementById(id);
    if (!found) throw new Error(`the page has no #${id}`);
    return found as T;
}

function show(id: string, visible: boolean): void {
    element(id).hidden = !visible;
}

async function showError(error: unknown): Promise<void> {
    const { title, detail } = await readable(error);
    element("message-title").textContent = `${title}.`;
    element("message-detail").textContent = ` ${detail.replace(/[^.]$/, "$&.")}`;
    show("message", true);
}

function clearError(): void {
    show("message", false);
}

async function main(): Promise<void> {
    const config = (await (await fetch("config.json")).json()) as StorefrontConfig;
    try {
        await completeSignIn(config);
    } catch (error) {
        await showError(error);
    }
    // Read after the return from sign-in has put the page's own query back.
    const query = new URLSearchParams(location.search);
    const ticketId = Number(query.get("ticket") ?? config.ticket);
    const holdSeconds = Number(query.get("hold_seconds") ?? config.holdSeconds ?? 600);
    const session: Session | null = currentSession();

    // The client sends the buyer's token to every operation the spec
    // secures with the buyer's scheme: the service takes the buyer from it.
    // The organiser's scheme, on the same operations, gets none.
    const api = new Configuration({
        basePath: config.api,
        accessToken: async (scheme?: string) => (scheme === "buyerToken" && session ? session.accessToken : ""),
    });
    const tickets = new TicketsApi(api);
    const holds = new HoldsApi(api);
    const purchases = new PurchasesApi(api);

    let signedIn = !!session;
    function showAccount(): void {
        element("buyer").textContent = signedIn ? `Signed in as ${session!.subject}` : "Not signed in";
        show("sign-in", !signedIn);
        show("sign-out", signedIn);
    }
    showAccount();
    element("sign-in").addEventListener("click", () => signIn(config).catch(showError));
    element("sign-out").addEventListener("click", () => {
        signOut();
        location.reload();
    });

    let hold: Hold | null = null;
    let expiryTimer: number | undefined;

    function render(ticket: Ticket): void {
        element("ticket-name").textContent = ticket.name;
        element("ticket-desc").textContent = ticket.desc;
        element("availability").textContent = ticket.allocation > 0
            ? `${ticket.allocation} of ${ticket.total} left (${ticket.sold} sold, ${ticket.held} held)`
            : `Sold out (${ticket.sold} sold, ${ticket.held} held)`;
        const limits = [
            ticket.maxPerPurchase ? `at most ${ticket.maxPerPurchase} an order` : "",
            ticket.maxPerUser ? `at most ${ticket.maxPerUser} a buyer` : "",
        ].filter(Boolean);
        element("limits").textContent = limits.length ? `Limits: ${limits.join(", ")}.` : "";
        element<HTMLButtonElement>("hold").disabled = !signedIn;
        element("hold").title = signedIn ? "" : "Sign in to buy";
    }

    async function refresh(): Promise<void> {
        render(await tickets.getTicket({ id: ticketId }));
    }

    function showHold(current: Hold | null): void {
        hold = current;
        window.clearTimeout(expiryTimer);
        show("hold-panel", !!current);
        if (!current) return;
        const minutes = Math.round((current.expiresAt.getTime() - current.createdAt.getTime()) / 60_000);
        const lasting = minutes >= 1 ? `${minutes} minute${minutes === 1 ? "" : "s"}` : "under a minute";
        element("hold-text").textContent =
            `${current.quantity} tickets held for you for ${lasting}. Confirm to buy them.`;
        // When the hold runs out, ask the service about it: it answers 410,
        // which the page shows as the service words it.
        expiryTimer = window.setTimeout(async () => {
            try {
                showHold(await holds.getHold({ id: ticketId, holdId: current.id }));
            } catch (error) {
                showHold(null);
                await showError(error);
            }
            await refresh().catch(showError);
        }, Math.max(0, current.expiresAt.getTime() - Date.now()) + 500);
    }

    function showPurchase(purchase: Purchase | null): void {
        show("purchase-panel", !!purchase);
        if (!purchase) return;
        const cancelled = !!purchase.cancelledAt;
        element("purchase-panel").classList.toggle("cancelled", cancelled);
        element("purchase-panel").dataset.purchaseId = purchase.id;
        element("purchase-text").textContent = cancelled
            ? `Purchase #${purchase.number} of ${purchase.quantity} tickets is cancelled; the tickets are back on sale.`
            : `Purchase #${purchase.number}: ${purchase.quantity} tickets are yours.`;
        show("cancel", !cancelled);
        element("cancel").onclick = () => act(async () => {
            showPurchase(await purchases.cancelPurchase({ id: ticketId, purchaseId: purchase.id }));
        });
    }

    // One step of the checkout: its error shown in words, the ticket read
    // again afterwards either way.
    async function act(step: () => Promise<void>): Promise<void> {
        clearError();
        try {
            await step();
        } catch (error) {
            await showError(error);
            // The service no longer takes the token (expired, revoked): the
            // buyer signs in again.
            if (error instanceof ResponseError && error.response.status === 401) {
                signOut();
                signedIn = false;
                showAccount();
            }
        }
        await refresh().catch(showError);
    }

    element("hold-form").addEventListener("submit", (event) => {
        event.preventDefault();
        const quantity = Number(element<HTMLInputElement>("quantity").value);
        void act(async () => {
            showPurchase(null);
            showHold(await holds.createHold({
                id: ticketId,
                holdCreate: { quantity, ttlSeconds: holdSeconds },
            }));
        });
    });
    element("confirm").addEventListener("click", () => act(async () => {
        if (!hold) return;
        const purchase = await holds.confirmHold({ id: ticketId, holdId: hold.id });
        showHold(null);
        showPurchase(purchase);
    }));

    await refresh().catch(showError);
    document.body.dataset.ready = "true";
}

main().catch(showError);
