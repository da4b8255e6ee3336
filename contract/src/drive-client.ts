// Drives the TypeScript client generated from openapi.yaml against a live
// server, as a frontend would: create, read, buy, and a sold-out purchase
// that must surface as the client's typed error carrying a problem.
//   node build/js/src/drive-client.js http://127.0.0.1:PORT
import {
    Configuration,
    ProblemFromJSON,
    PurchasesApi,
    ResponseError,
    TicketsApi,
} from "../build/client";

function check(condition: boolean, message: string): void {
    if (!condition) {
        throw new Error(`contract check failed: ${message}`);
    }
}

async function main(basePath: string): Promise<void> {
    const config = new Configuration({ basePath });
    const tickets = new TicketsApi(config);
    const purchases = new PurchasesApi(config);
    const buyer = "406c1d05-bbb2-4e94-b183-7d208c2692e1";

    const created = await tickets.createTicket({
        ticketCreate: { name: "typed client", desc: "from TypeScript", allocation: 2 },
    });
    check(created.id > 0 && created.allocation === 2, `created ${JSON.stringify(created)}`);

    const read = await tickets.getTicket({ id: created.id });
    check(read.name === "typed client" && read.allocation === 2, `read ${JSON.stringify(read)}`);

    const bought = await purchases.purchaseTicketsRaw({
        id: created.id,
        purchaseCreate: { quantity: 2, userId: buyer },
    });
    const location = bought.raw.headers.get("location") ?? "";
    check(bought.raw.status === 201, `purchase status ${bought.raw.status}`);
    check(location.startsWith(`/tickets/${created.id}/purchases/`), `purchase location ${location}`);

    const record = await purchases.getPurchase({ id: created.id, purchaseId: location.split("/").pop() ?? "" });
    check(record.quantity === 2 && record.userId === buyer, `purchase record ${JSON.stringify(record)}`);

    try {
        await purchases.purchaseTickets({ id: created.id, purchaseCreate: { quantity: 1, userId: buyer } });
        check(false, "buying from a sold-out ticket succeeded");
    } catch (error) {
        check(error instanceof ResponseError, `sold out raised ${String(error)}`);
        const response = (error as ResponseError).response;
        check(response.status === 409, `sold out status ${response.status}`);
        check(
            response.headers.get("content-type") === "application/problem+json",
            `sold out content type ${response.headers.get("content-type")}`,
        );
        const problem = ProblemFromJSON(await response.json());
        check(problem.status === 409 && problem.remaining === 0, `sold out problem ${JSON.stringify(problem)}`);
    }

    const after = await tickets.getTicket({ id: created.id });
    check(after.allocation === 0, `left after selling out: ${after.allocation}`);
    console.log("typed client: create, get, purchase, record and sold-out 409 behave as the spec says");
}

main(process.argv[2] ?? "http://127.0.0.1:8080").catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
