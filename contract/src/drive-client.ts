// Drives the TypeScript client generated from openapi.yaml against a live
// server, as a frontend would: the generated types must compile against this
// code, and the server's answers must come back through them. A sold-out
// purchase must surface as the client's typed error carrying a problem.
//
// With credentials, as the spec's security schemes say: an organiser token
// creates the tickets, a buyer's token (a JWT) buys and holds without naming
// the buyer, who must come out as the token's subject. A call without a token
// and a buyer's token on an organiser's operation must be refused.
//   ORGANISER_TOKEN=tks_... BUYER_TOKEN=eyJ... node build/js/src/drive-client.js http://127.0.0.1:PORT
import { createHash } from "node:crypto";
import {
    Configuration,
    HoldStatusEnum,
    HoldsApi,
    ProblemFromJSON,
    ProblemLimitEnum,
    PurchasesApi,
    ResponseError,
    TicketsApi,
} from "../build/client";
import type { Problem } from "../build/client";

class Mismatch extends Error {}

function check(condition: boolean, message: string): void {
    if (!condition) {
        throw new Mismatch(message);
    }
}

// The failed call's error, or a mismatch if the call did not fail as the
// spec says it must.
async function expectFailure(call: () => Promise<unknown>): Promise<ResponseError> {
    try {
        await call();
    } catch (error) {
        check(error instanceof ResponseError, `expected the client's ResponseError, got ${String(error)}`);
        return error as ResponseError;
    }
    throw new Mismatch("expected the call to fail, it succeeded");
}

// The problem a call failed with: the status and the type it must have,
// carried as application/problem+json.
async function expectProblem(what: string, call: () => Promise<unknown>, status: number, type: string): Promise<Problem> {
    const response = (await expectFailure(call)).response;
    check(response.status === status, `${what}: status ${response.status}, expected ${status}`);
    const contentType = response.headers.get("content-type");
    check(contentType === "application/problem+json", `${what}: content type ${contentType}`);
    const problem = ProblemFromJSON(await response.json());
    check(problem.status === status, `${what}: problem status ${problem.status}`);
    check(problem.type === type, `${what}: problem type ${problem.type}, expected ${type}`);
    return problem;
}

// The buyer's user_id the server must derive from a JWT (docs/AUTH.md): its
// subject if that is a hyphenated UUID, else the UUIDv5 of the issuer, a NUL
// byte and the subject in the service's namespace. Worked out here on its
// own, so the server's derivation is checked, not echoed.
const SUBJECT_NAMESPACE = "77c3fb1f-b5fc-5aba-8082-60e663388672";

function buyerOf(jwt: string): string {
    const claims = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as {
        iss: string;
        sub: string;
    };
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(claims.sub)) {
        return claims.sub.toLowerCase();
    }
    const bytes = createHash("sha1")
        .update(Buffer.from(SUBJECT_NAMESPACE.replaceAll("-", ""), "hex"))
        .update(`${claims.iss}\0${claims.sub}`, "utf8")
        .digest()
        .subarray(0, 16);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = bytes.toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// The callers the driver acts as, each a client configuration.
interface Callers {
    organiser: Configuration;
    buyer: Configuration;
    anonymous: Configuration;
}

// A checkout as a frontend builds it: hold, confirm, cancel, and a buyer
// stopped by the ticket's per-buyer limit.
async function checkout(callers: Callers, buyer: string): Promise<void> {
    const tickets = new TicketsApi(callers.buyer);
    const holds = new HoldsApi(callers.buyer);
    const purchases = new PurchasesApi(callers.buyer);

    const created = await new TicketsApi(callers.organiser).createTicket({
        ticketCreate: { name: "checkout", desc: "holds from TypeScript", allocation: 5, maxPerUser: 3 },
    });
    check(created.maxPerUser === 3, `created ticket maxPerUser ${created.maxPerUser}, expected 3`);

    const hold = await holds.createHold({ id: created.id, holdCreate: { quantity: 2, ttlSeconds: 120 } });
    check(
        hold.status === HoldStatusEnum.Held && hold.quantity === 2 && hold.userId === buyer,
        `hold ${JSON.stringify(hold)}, expected 2 held for ${buyer}`,
    );
    const lifetime = hold.expiresAt.getTime() - hold.createdAt.getTime();
    check(lifetime === 120_000, `hold lifetime ${lifetime} ms, expected 120000`);
    const duringCheckout = await tickets.getTicket({ id: created.id });
    check(
        duringCheckout.allocation === 3 && duringCheckout.held === 2 && duringCheckout.sold === 0 && duringCheckout.total === 5,
        `ticket during checkout ${JSON.stringify(duringCheckout)}`,
    );

    // Two held and one more wanted is the buyer's limit of 3; two more is past it.
    const limited = await expectProblem(
        "purchase past the per-buyer limit",
        () => purchases.purchaseTickets({ id: created.id, purchaseCreate: { quantity: 2 } }),
        409,
        "/problems/limit-exceeded",
    );
    check(
        limited.limit === ProblemLimitEnum.MaxPerUser && limited.remainingForBuyer === 1,
        `limit problem ${JSON.stringify(limited)}`,
    );

    const bought = await holds.confirmHold({ id: created.id, holdId: hold.id });
    check(bought.holdId === hold.id && bought.quantity === 2, `confirmed purchase ${JSON.stringify(bought)}`);
    const confirmed = await holds.getHold({ id: created.id, holdId: hold.id });
    check(
        confirmed.status === HoldStatusEnum.Confirmed && confirmed.purchaseId === bought.id,
        `hold after confirming ${JSON.stringify(confirmed)}`,
    );
    const again = await expectProblem(
        "confirming twice",
        () => holds.confirmHold({ id: created.id, holdId: hold.id }),
        409,
        "/problems/hold-confirmed",
    );
    check(again.purchaseId === bought.id, `hold-confirmed problem names ${again.purchaseId}, expected ${bought.id}`);

    const cancelled = await purchases.cancelPurchase({ id: created.id, purchaseId: bought.id });
    check(cancelled.cancelledAt instanceof Date, `cancelled purchase ${JSON.stringify(cancelled)}`);
    const cancelledAgain = await purchases.cancelPurchase({ id: created.id, purchaseId: bought.id });
    check(
        cancelledAgain.cancelledAt?.getTime() === cancelled.cancelledAt?.getTime(),
        "cancelling twice changed the purchase's cancelled_at",
    );

    const released = await holds.createHold({ id: created.id, holdCreate: { quantity: 1 } });
    await holds.releaseHold({ id: created.id, holdId: released.id });
    await expectProblem(
        "confirming a released hold",
        () => holds.confirmHold({ id: created.id, holdId: released.id }),
        409,
        "/problems/hold-released",
    );
    await expectProblem(
        "reading a released hold",
        () => holds.getHold({ id: created.id, holdId: released.id }),
        410,
        "/problems/hold-gone",
    );

    const after = await tickets.getTicket({ id: created.id });
    check(
        after.allocation === 5 && after.held === 0 && after.sold === 0 && after.total === 5,
        `ticket after cancelling and releasing ${JSON.stringify(after)}`,
    );
}

async function main(basePath: string, organiserToken: string, buyerToken: string): Promise<void> {
    const callers: Callers = {
        organiser: new Configuration({ basePath, accessToken: organiserToken }),
        buyer: new Configuration({ basePath, accessToken: buyerToken }),
        anonymous: new Configuration({ basePath }),
    };
    // Reading a ticket's availability needs no token.
    const tickets = new TicketsApi(callers.anonymous);
    const purchases = new PurchasesApi(callers.buyer);
    const buyer = buyerOf(buyerToken);

    const created = await new TicketsApi(callers.organiser).createTicket({
        ticketCreate: { name: "typed client", desc: "from TypeScript", allocation: 2 },
    });
    check(Number.isInteger(created.id) && created.id > 0, `created ticket id ${created.id}`);
    check(created.allocation === 2, `created ticket allocation ${created.allocation}, expected 2`);

    const read = await tickets.getTicket({ id: created.id });
    check(
        read.id === created.id && read.name === "typed client" && read.allocation === 2,
        `read back ${JSON.stringify(read)}`,
    );

    const bought = await purchases.purchaseTicketsRaw({
        id: created.id,
        purchaseCreate: { quantity: 2 },
    });
    check(bought.raw.status === 201, `purchase of 2: status ${bought.raw.status}, expected 201`);
    const location = bought.raw.headers.get("location") ?? "";
    check(location.startsWith(`/tickets/${created.id}/purchases/`), `purchase Location ${JSON.stringify(location)}`);

    const record = await purchases.getPurchase({ id: created.id, purchaseId: location.split("/").pop() ?? "" });
    check(
        record.ticketId === created.id && record.quantity === 2 && record.userId === buyer,
        `purchase record ${JSON.stringify(record)}, expected 2 bought by the token's buyer ${buyer}`,
    );

    const soldOut = await expectProblem(
        "sold-out purchase",
        () => purchases.purchaseTickets({ id: created.id, purchaseCreate: { quantity: 1 } }),
        409,
        "/problems/not-enough-tickets",
    );
    check(soldOut.remaining === 0, `sold-out problem remaining ${soldOut.remaining}, expected 0`);

    const after = await tickets.getTicket({ id: created.id });
    check(after.allocation === 0, `allocation after selling out: ${after.allocation}, expected 0`);

    await checkout(callers, buyer);
    await refusals(callers, created.id);
    console.log(
        "typed client: create, get, purchase 2 as the token's buyer, read the record, sold-out 409 problem with remaining 0; " +
            "hold, limit-exceeded 409, confirm, hold-confirmed 409, cancel twice, release, hold-released 409, released hold 410; " +
            "no token 401, buyer creating a ticket 403",
    );
}

// Calls the credentials do not allow, refused with problems that change
// nothing.
async function refusals(callers: Callers, ticket: number): Promise<void> {
    const before = await new TicketsApi(callers.anonymous).getTicket({ id: ticket });
    await expectProblem(
        "purchase without a token",
        () => new PurchasesApi(callers.anonymous).purchaseTickets({ id: ticket, purchaseCreate: { quantity: 1 } }),
        401,
        "/problems/unauthenticated",
    );
    await expectProblem(
        "a buyer's token creating a ticket",
        () =>
            new TicketsApi(callers.buyer).createTicket({
                ticketCreate: { name: "refused", desc: "a buyer's", allocation: 1 },
            }),
        403,
        "/problems/forbidden",
    );
    const after = await new TicketsApi(callers.anonymous).getTicket({ id: ticket });
    check(JSON.stringify(after) === JSON.stringify(before), `ticket after the refusals ${JSON.stringify(after)}`);
}

const base = process.argv[2];
const organiserToken = process.env.ORGANISER_TOKEN;
const buyerToken = process.env.BUYER_TOKEN;
if (!base || !organiserToken || !buyerToken) {
    console.error("usage: ORGANISER_TOKEN=tks_... BUYER_TOKEN=JWT node build/js/src/drive-client.js http://127.0.0.1:PORT");
    process.exit(2);
}
main(base, organiserToken, buyerToken).catch((error: unknown) => {
    console.error(error instanceof Mismatch ? `typed client: MISMATCH: ${error.message}` : error);
    process.exit(1);
});
