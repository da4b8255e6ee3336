// Drives the TypeScript client generated from openapi.yaml against a live
// server, as a frontend would: the generated types must compile against this
// code, and the server's answers must come back through them. A sold-out
// purchase must surface as the client's typed error carrying a problem.
//   node build/js/src/drive-client.js http://127.0.0.1:PORT
import {
    Configuration,
    ProblemFromJSON,
    PurchasesApi,
    ResponseError,
    TicketsApi,
} from "../build/client";

class Mismatch extends Error {}

function check(condition: boolean, message: string): void {
    if (!condition) {
        throw new Mismatch(message);
    }
}

// The sold-out purchase's error, or a mismatch if the call did not fail as
// the spec says it must.
async function expectFailure(call: () => Promise<unknown>): Promise<ResponseError> {
    try {
        await call();
    } catch (error) {
        check(error instanceof ResponseError, `expected the client's ResponseError, got ${String(error)}`);
        return error as ResponseError;
    }
    throw new Mismatch("expected the call to fail, it succeeded");
}

async function main(basePath: string): Promise<void> {
    const config = new Configuration({ basePath });
    const tickets = new TicketsApi(config);
    const purchases = new PurchasesApi(config);
    const buyer = "406c1d05-bbb2-4e94-b183-7d208c2692e1";

    const created = await tickets.createTicket({
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
        purchaseCreate: { quantity: 2, userId: buyer },
    });
    check(bought.raw.status === 201, `purchase of 2: status ${bought.raw.status}, expected 201`);
    const location = bought.raw.headers.get("location") ?? "";
    check(location.startsWith(`/tickets/${created.id}/purchases/`), `purchase Location ${JSON.stringify(location)}`);

    const record = await purchases.getPurchase({ id: created.id, purchaseId: location.split("/").pop() ?? "" });
    check(
        record.ticketId === created.id && record.quantity === 2 && record.userId === buyer,
        `purchase record ${JSON.stringify(record)}`,
    );

    const soldOut = await expectFailure(() =>
        purchases.purchaseTickets({ id: created.id, purchaseCreate: { quantity: 1, userId: buyer } }),
    );
    const response = soldOut.response;
    check(response.status === 409, `sold-out purchase: status ${response.status}, expected 409`);
    const contentType = response.headers.get("content-type");
    check(contentType === "application/problem+json", `sold-out purchase: content type ${contentType}`);
    const problem = ProblemFromJSON(await response.json());
    check(problem.status === 409, `sold-out problem status ${problem.status}`);
    check(problem.remaining === 0, `sold-out problem remaining ${problem.remaining}, expected 0`);

    const after = await tickets.getTicket({ id: created.id });
    check(after.allocation === 0, `allocation after selling out: ${after.allocation}, expected 0`);
    console.log("typed client: create, get, purchase 2, read the record, sold-out 409 problem with remaining 0");
}

const base = process.argv[2];
if (!base) {
    console.error("usage: node build/js/src/drive-client.js http://127.0.0.1:PORT");
    process.exit(2);
}
main(base).catch((error: unknown) => {
    console.error(error instanceof Mismatch ? `typed client: MISMATCH: ${error.message}` : error);
    process.exit(1);
});
