"""Drives the Python client generated from openapi.yaml against a live server.

As a Python caller would use it: the answers must come back through the
generated models, the errors as the client's typed exceptions carrying a
problem. Each step runs on a ticket of its own, so one step's mismatch does
not hide another's. Prints one summary line, or a MISMATCH line per failed
step and exits 1.

With credentials, as the spec's security schemes say: an organiser token
creates the tickets, a buyer's token (a JWT) buys without naming the buyer,
who must come out as the token's subject. A call without a token and a
buyer's token on an organiser's operation must be refused.

    ORGANISER_TOKEN=tks_... BUYER_TOKEN=eyJ... python contract/src/drive_client.py http://127.0.0.1:PORT
"""

import base64
import json
import os
import sys
import uuid
from collections.abc import Callable

from tickets_client import (
    ApiClient,
    Configuration,
    Problem,
    Purchase,
    PurchaseCreate,
    PurchasesApi,
    TicketCreate,
    TicketsApi,
)
from tickets_client.exceptions import (
    ApiException,
    BadRequestException,
    ConflictException,
    ForbiddenException,
    UnauthorizedException,
)

# The namespace of the user_ids made from subjects that are not UUIDs (docs/AUTH.md).
SUBJECT_NAMESPACE = uuid.UUID("77c3fb1f-b5fc-5aba-8082-60e663388672")


def buyer_of(jwt: str) -> uuid.UUID:
    """The user_id the server must derive from a buyer's token, worked out
    here on its own so that the server's derivation is checked, not echoed."""
    payload = jwt.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    subject = claims["sub"]
    if len(subject) == 36:
        try:
            return uuid.UUID(subject)
        except ValueError:
            pass
    return uuid.uuid5(SUBJECT_NAMESPACE, claims["iss"] + "\0" + subject)


class Mismatch(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Mismatch(message)


def header(headers, name: str) -> str | None:
    """A response header by name, whatever the case the client keeps it in."""
    return next((value for key, value in (headers or {}).items() if key.lower() == name), None)


def problem_of(error: ApiException, status: int) -> Problem:
    """The problem an error carries, checked to be what the spec says."""
    check(error.status == status, f"expected {status}, got {error.status}: {error.body}")
    content_type = header(error.headers, "content-type")
    check(content_type == "application/problem+json", f"{status} content type {content_type!r}")
    check(isinstance(error.data, Problem), f"{status} body not read as a Problem: {error.body}")
    check(error.data.status == status, f"{status} problem status {error.data.status}")
    return error.data


class Driver:
    def __init__(self, base: str, organiser_token: str, buyer_token: str) -> None:
        organiser = ApiClient(Configuration(host=base, access_token=organiser_token))
        buyer = ApiClient(Configuration(host=base, access_token=buyer_token))
        anonymous = ApiClient(Configuration(host=base))
        self.buyer = buyer_of(buyer_token)
        # The organiser creates the tickets; reading one needs no token.
        self.organisers_tickets = TicketsApi(organiser)
        self.tickets = TicketsApi(anonymous)
        self.purchases = PurchasesApi(buyer)
        self.buyers_tickets = TicketsApi(buyer)
        self.anonymous_purchases = PurchasesApi(anonymous)

    def new_ticket(self, name: str, allocation: int) -> int:
        ticket = self.organisers_tickets.create_ticket(
            TicketCreate(name=name, desc="from Python", allocation=allocation)
        )
        return ticket.id

    def buy(self, ticket_id: int, quantity: int, key: str | None = None) -> Purchase:
        """A purchase as the token's buyer, read from the 201's body and
        checked against its Location."""
        answer = self.purchases.purchase_tickets_with_http_info(
            ticket_id, PurchaseCreate(quantity=quantity), idempotency_key=key
        )
        check(answer.status_code == 201, f"purchase: status {answer.status_code}, expected 201")
        record = answer.data
        check(isinstance(record, Purchase), f"purchase 201 body: expected the purchase record, got {record!r}")
        check(
            record.ticket_id == ticket_id and record.quantity == quantity and record.user_id == self.buyer,
            f"purchase 201 body {record.to_json()}, expected {quantity} bought by the token's buyer {self.buyer}",
        )
        location = header(answer.headers, "location")
        check(
            location == f"/tickets/{ticket_id}/purchases/{record.id}",
            f"purchase Location {location!r} for purchase {record.id}",
        )
        return record

    def left(self, ticket_id: int) -> int:
        return self.tickets.get_ticket(ticket_id).allocation

    def create_and_get(self) -> None:
        created = self.organisers_tickets.create_ticket(
            TicketCreate(name="python client", desc="from Python", allocation=5)
        )
        check(created.id > 0 and created.allocation == 5, f"created ticket {created.to_json()}")
        read = self.tickets.get_ticket(created.id)
        check(read == created, f"read back {read.to_json()}, created {created.to_json()}")

    def purchase_and_read(self) -> None:
        ticket_id = self.new_ticket("python purchase", 5)
        record = self.buy(ticket_id, 2)
        read = self.purchases.get_purchase(ticket_id, str(record.id))
        check(read == record, f"purchase read back {read.to_json()}, 201 gave {record.to_json()}")
        check(self.left(ticket_id) == 3, f"left after buying 2 of 5: {self.left(ticket_id)}")

    def sold_out(self) -> None:
        ticket_id = self.new_ticket("python sold out", 2)
        self.buy(ticket_id, 2)
        try:
            self.purchases.purchase_tickets(ticket_id, PurchaseCreate(quantity=1))
        except ConflictException as error:
            problem = problem_of(error, 409)
            check(problem.remaining == 0, f"sold-out problem remaining {problem.remaining}, expected 0")
        else:
            raise Mismatch("buying from a sold-out ticket did not raise ConflictException")
        check(self.left(ticket_id) == 0, f"left after selling out: {self.left(ticket_id)}")

    def paging(self) -> None:
        # A whole number of full pages: the last one must still say it is the last.
        ticket_id = self.new_ticket("python paging", 10)
        bought = [self.buy(ticket_id, 1).id for _ in range(4)]
        seen, cursor, pages = [], None, 0
        while True:
            page = self.purchases.list_purchases(ticket_id, limit=2, cursor=cursor)
            pages += 1
            check(page.items, f"page {pages} is empty: the page before it should have had no next_cursor")
            seen += [purchase.id for purchase in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
            check(pages < len(bought), f"more pages than purchases ({pages}), next_cursor {cursor!r}")
        check(seen == bought, f"pages listed {seen}, bought in this order: {bought}")
        check(pages == 2, f"4 purchases in pages of 2 took {pages} pages")

    def replay(self) -> None:
        ticket_id = self.new_ticket("python replay", 5)
        key = str(uuid.uuid4())
        first = self.buy(ticket_id, 2, key)
        again = self.buy(ticket_id, 2, key)
        check(again == first, f"replay gave {again.to_json()}, first answer {first.to_json()}")
        check(self.left(ticket_id) == 3, f"left after one purchase of 2 sent twice: {self.left(ticket_id)}")
        listed = self.purchases.list_purchases(ticket_id).items
        check([p.id for p in listed] == [first.id], f"purchases after the replay: {[p.id for p in listed]}")

    def bad_request(self) -> None:
        ticket_id = self.new_ticket("python bad request", 5)
        # The client refuses quantity 0 itself; built unchecked, it reaches the server.
        zero = PurchaseCreate.model_construct(quantity=0)
        try:
            self.purchases.purchase_tickets(ticket_id, zero)
        except BadRequestException as error:
            problem = problem_of(error, 400)
            pointers = [e.pointer for e in problem.errors or []]
            check(pointers == ["/quantity"], f"400 problem errors {problem.errors}, expected one at /quantity")
        else:
            raise Mismatch("quantity 0 did not raise BadRequestException")
        check(self.left(ticket_id) == 5, f"left after a refused purchase: {self.left(ticket_id)}")

    def no_token(self) -> None:
        ticket_id = self.new_ticket("python no token", 5)
        try:
            self.anonymous_purchases.purchase_tickets(ticket_id, PurchaseCreate(quantity=1))
        except UnauthorizedException as error:
            problem = problem_of(error, 401)
            check(problem.type == "/problems/unauthenticated", f"401 problem type {problem.type}")
            challenge = header(error.headers, "www-authenticate") or ""
            check(challenge.startswith("Bearer"), f"401 WWW-Authenticate {challenge!r}")
        else:
            raise Mismatch("a purchase without a token did not raise UnauthorizedException")
        check(self.left(ticket_id) == 5, f"left after a purchase without a token: {self.left(ticket_id)}")

    def buyer_creates_ticket(self) -> None:
        try:
            self.buyers_tickets.create_ticket(TicketCreate(name="refused", desc="a buyer's", allocation=1))
        except ForbiddenException as error:
            problem = problem_of(error, 403)
            check(problem.type == "/problems/forbidden", f"403 problem type {problem.type}")
        else:
            raise Mismatch("a buyer's token creating a ticket did not raise ForbiddenException")


STEPS: list[tuple[str, Callable[[Driver], None]]] = [
    ("create and get", Driver.create_and_get),
    ("purchase", Driver.purchase_and_read),
    ("sold out", Driver.sold_out),
    ("paging", Driver.paging),
    ("idempotent replay", Driver.replay),
    ("400", Driver.bad_request),
    ("401 without a token", Driver.no_token),
    ("403 for a buyer creating a ticket", Driver.buyer_creates_ticket),
]


def main(base: str, organiser_token: str, buyer_token: str) -> int:
    driver = Driver(base, organiser_token, buyer_token)
    failed = []
    for name, step in STEPS:
        try:
            step(driver)
        except Mismatch as mismatch:
            failed.append(f"{name}: {mismatch}")
        except ApiException as error:
            failed.append(f"{name}: unexpected {error.status} answer: {error.body}")
        except Exception as error:  # a client or driver fault fails this step, not the others
            failed.append(f"{name}: {type(error).__name__}: {str(error).splitlines()[0]}")
    for failure in failed:
        print(f"python client: MISMATCH: {failure}")
    if failed:
        return 1
    print(
        "python client: create, get, purchase as the token's buyer (201 body and Location), read it,"
        " sold-out 409 problem with remaining 0, 4 purchases over 2 pages and no empty one,"
        " idempotent replay, 400 with errors, no token 401, buyer creating a ticket 403"
    )
    return 0


if __name__ == "__main__":
    organiser_token, buyer_token = os.environ.get("ORGANISER_TOKEN"), os.environ.get("BUYER_TOKEN")
    if len(sys.argv) != 2 or not organiser_token or not buyer_token:
        sys.exit("usage: ORGANISER_TOKEN=tks_... BUYER_TOKEN=JWT python contract/src/drive_client.py http://127.0.0.1:PORT")
    sys.exit(main(sys.argv[1], organiser_token, buyer_token))
