"""The soak's clients and its verdict (scripts/soak.sh runs both).

    soak.py traffic --duration S --replicas URL,URL,URL --psql PSQL --out OBSERVED.json
                    [--holds SHARE]
        Mixed traffic for S seconds, spread over the replicas request by
        request: keyed buyers (a new Idempotency-Key each purchase, retried
        with that key after a 5xx or a connection error until a definite
        answer), unkeyed buyers, and readers following each ticket's purchase
        list by number. With --holds, that share of the purchases is a hold
        then its confirmation, both keyed. Writes what the clients saw.
    soak.py report --observed OBSERVED.json --faults FAULTS --tickets CSV --purchases CSV
                   [--failed REASON ...]
        Checks what the clients saw against the database's rows and the
        faults injected; prints a table and one verdict line; exits 1 on FAIL.

Standard library only, so that nothing needs installing. Every purchase
carries a user_id made from its request number, so each purchase row leads
back to the request that made it.
"""

import argparse
import asyncio
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Buyers and readers at once: enough to keep three replicas and the database
# busy without the clients taking the 2 cores they share.
BUYERS = 24
KEYED_SHARE = 0.3
# A keyed purchase's answer is sent again to another replica this often: the
# replay must be the same answer.
REPLAY_SHARE = 0.1
QUANTITIES = (1, 1, 1, 2, 3)
REGULAR_TICKETS = 6
TINY_ALLOCATION = 100
HOT_SHARE = 0.5
TINY_SHARE = 0.05
# Longer than the server's longest wait (statement timeout 5 s, connect
# timeout 2 s): a request not answered by then counts as a connection error.
REQUEST_TIMEOUT = 30.0
# A keyed buyer still without a definite answer this long after the run
# gives up, and the key counts as unresolved.
KEYED_GIVE_UP = 60.0
# A keep-alive connection idle this long is replaced before use: the server
# closes idle ones (HEADER_READ_TIMEOUT_MS, 10 s), and a request written as
# it does so would fail for no fault of the server's.
IDLE_REUSE = 5.0


class Unreachable(Exception):
    """No complete answer: refused, reset, cut short or timed out."""


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    def problem_type(self) -> str:
        try:
            return self.json().get("type", "")
        except ValueError:
            return ""


class Connection:
    """One keep-alive HTTP/1.1 connection to one replica."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None
        self.used = 0.0
        # When the connection in use was opened (or its opening tried).
        self.opened = 0.0

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: dict, body: bytes | None) -> Answer:
        try:
            return await asyncio.wait_for(self._exchange(method, path, headers, body), REQUEST_TIMEOUT)
        except (OSError, EOFError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            # TimeoutError is an OSError.
            self.close()
            raise Unreachable(type(error).__name__) from None

    async def _exchange(self, method, path, headers, body) -> Answer:
        if self.writer is not None and time.monotonic() - self.used > IDLE_REUSE:
            self.close()
        if self.writer is None:
            self.opened = time.time()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        received = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                received[name.strip().lower()] = value.strip()
        if received.get("transfer-encoding", "").lower() == "chunked":
            content = b""
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                content += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")
        else:
            content = await self.reader.readexactly(int(received.get("content-length", "0")))
        if received.get("connection", "").lower() == "close":
            self.close()
        self.used = time.monotonic()
        return Answer(status, received, content)


@dataclass
class Failure:
    """A request that got a 5xx or no answer, when its connection was
    opened, and when its replica next answered a request sent after it."""
    sent: float
    answered: float
    opened: float
    replica: int
    kind: str
    label: str
    recovered: float | None = None


@dataclass
class Reader:
    ticket: int
    limit: int
    ids: list = field(default_factory=list)
    last: int = 0
    pages: int = 0


class Soak:
    """The run's clients and what they saw. Times are seconds since the
    epoch, so that they compare with the fault log's."""

    def __init__(self, replicas: list[str], duration: float, holds: float = 0.0):
        self.replicas = [(urlsplit(u).hostname, urlsplit(u).port) for u in replicas]
        self.duration = duration
        self.holds = holds
        self.started = time.time()
        self.deadline = self.started + duration
        self.run = uuid.uuid4().hex[:12]
        self.turn = 0
        self.requests = 0
        self.statuses = defaultdict(Counter)
        self.failures: list[Failure] = []
        self.pending = defaultdict(list)
        self.purchases = []
        self.problems = []
        self.missing_retry_after = 0
        self.tickets = {}
        self.tiny = None
        self.regular = []
        self.hot = None
        self.hot_sold_out_at = None
        self.sold_before_hot = 0
        self.final = asyncio.Event()
        self.readers: list[Reader] = []

    def next_replica(self) -> int:
        self.turn += 1
        return self.turn % len(self.replicas)

    def problem(self, text: str):
        if len(self.problems) < 200:
            self.problems.append(text)

    async def send(self, connections: dict, replica: int, kind: str, method: str, path: str,
                   headers: dict | None = None, body: dict | None = None) -> Answer | None:
        """One request to a replica; counts its answer by kind and status
        and notes failures (5xx, no answer) for the recovery times."""
        connection = connections.get(replica)
        if connection is None:
            connection = connections[replica] = Connection(*self.replicas[replica])
        sent = time.time()
        try:
            answer = await connection.request(method, path, headers or {},
                                              None if body is None else json.dumps(body).encode())
        except Unreachable:
            answer = None
        answered = time.time()
        if answer is None:
            label = "connection error"
        elif answer.status == 409:
            label = "409 in flight" if answer.problem_type().endswith("request-in-flight") else "409 sold out"
        else:
            label = str(answer.status)
        self.statuses[kind][label] += 1
        if answer is None or answer.status >= 500:
            if answer is not None and answer.status == 503 and answer.headers.get("retry-after") is None:
                self.missing_retry_after += 1
            failure = Failure(sent - self.started, answered - self.started, connection.opened - self.started,
                              replica, kind, label)
            self.failures.append(failure)
            self.pending[replica].append(failure)
        else:
            # The first request sent after a failure and answered: the
            # replica has recovered from it.
            waiting = self.pending[replica]
            if waiting:
                still = [f for f in waiting if f.answered > sent - self.started]
                for f in waiting:
                    if f.answered <= sent - self.started:
                        f.recovered = answered - self.started
                self.pending[replica] = still
        return answer

    async def create_ticket(self, name: str, allocation: int) -> int:
        connections = {}
        while True:
            answer = await self.send(connections, self.next_replica(), "create", "POST", "/tickets",
                                     body={"name": name, "desc": "soak", "allocation": allocation})
            if answer is not None and answer.status == 201:
                ticket = answer.json()["id"]
                self.tickets[ticket] = {"role": name, "allocation": allocation}
                return ticket
            if answer is not None and answer.status < 500:
                raise SystemExit(f"creating a ticket: {answer.status} {answer.body[:200]!r}")
            await asyncio.sleep(0.2)

    def choose_ticket(self) -> int:
        roll = random.random()
        if self.hot is not None and roll < HOT_SHARE:
            return self.hot
        if roll > 1 - TINY_SHARE:
            return self.tiny
        return random.choice(self.regular)

    async def buyer(self):
        connections = {}
        while time.time() < self.deadline:
            self.requests += 1
            n = self.requests
            ticket, quantity = self.choose_ticket(), random.choice(QUANTITIES)
            # Version 4 bits set over the request number, which stays readable
            # in the low 48 bits.
            body = {"quantity": quantity, "user_id": str(uuid.UUID(int=n, version=4))}
            path = f"/tickets/{ticket}/purchases"
            keyed = random.random() < KEYED_SHARE
            if random.random() < self.holds:
                keyed = True
                outcome, purchase_id = await self.hold_and_confirm(connections, ticket, body, f"soak-{self.run}-{n}")
            elif keyed:
                outcome, purchase_id = await self.buy_keyed(connections, path, body, f"soak-{self.run}-{n}")
            else:
                outcome, purchase_id = await self.buy_once(connections, path, body)
            self.purchases.append([n, int(keyed), ticket, quantity, outcome, purchase_id])
            if outcome == "201" and self.hot is None:
                self.sold_before_hot += quantity
            if outcome == "409" and ticket == self.hot and self.hot_sold_out_at is None:
                self.hot_sold_out_at = time.time() - self.started

    def definite(self, answer: Answer, path: str) -> tuple[str, str | None]:
        """A 201 (with the purchase's id) or a 409 sold out; anything else
        is a problem."""
        if answer.status == 201:
            return "201", answer.json()["id"]
        if answer.status == 409:
            return "409", None
        self.problem(f"POST {path}: unexpected {answer.status} {answer.body[:200]!r}")
        return f"unexpected {answer.status}", None

    async def buy_once(self, connections, path, body):
        answer = await self.send(connections, self.next_replica(), "purchase", "POST", path, body=body)
        if answer is None:
            await asyncio.sleep(0.1)
            return "no answer", None
        if answer.status >= 500:
            # Bought or not: the row tells. A real client would wait too.
            await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
            return str(answer.status), None
        return self.definite(answer, path)

    async def buy_keyed(self, connections, path, body, key):
        answer = await self.keyed_until_definite(connections, "purchase, keyed", path, key, body)
        if answer is None:
            return "unresolved", None
        outcome, purchase_id = self.definite(answer, path)
        if random.random() < REPLAY_SHARE:
            await self.replay(connections, path, body, key, answer)
        return outcome, purchase_id

    async def keyed_until_definite(self, connections, kind, path, key, body):
        """A keyed request, retried with its key after a 5xx, no answer or
        409 in flight, until a definite answer (or the give-up time)."""
        give_up = self.deadline + KEYED_GIVE_UP
        while time.time() < give_up:
            answer = await self.send(connections, self.next_replica(), kind, "POST", path,
                                     headers={"Idempotency-Key": key}, body=body)
            if answer is None:
                await asyncio.sleep(0.1)
            elif answer.status >= 500:
                await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
            elif answer.status == 409 and answer.problem_type().endswith("request-in-flight"):
                await asyncio.sleep(0.1)
            else:
                return answer
        return None

    async def hold_and_confirm(self, connections, ticket, body, key):
        """Holds the tickets, then confirms the hold: the purchase it makes
        is the request's."""
        path = f"/tickets/{ticket}/holds"
        held = await self.keyed_until_definite(connections, "hold", path, f"{key}-hold", body)
        if held is None:
            return "unresolved", None
        if held.status == 409:
            return "409", None
        if held.status != 201:
            self.problem(f"POST {path}: unexpected {held.status} {held.body[:200]!r}")
            return f"unexpected {held.status}", None
        path = f"{path}/{held.json()['id']}/confirm"
        confirmed = await self.keyed_until_definite(connections, "confirm", path, f"{key}-confirm", None)
        if confirmed is None:
            return "unresolved", None
        return self.definite(confirmed, path)

    async def replay(self, connections, path, body, key, first: Answer):
        """The same key again, on another replica: the same answer."""
        for _ in range(20):
            answer = await self.send(connections, self.next_replica(), "replay", "POST", path,
                                     headers={"Idempotency-Key": key}, body=body)
            if answer is not None and answer.status < 500:
                if (answer.status, answer.body) != (first.status, first.body):
                    self.problem(f"replay of key {key}: {answer.status} {answer.body[:200]!r}, "
                                 f"first {first.status} {first.body[:200]!r}")
                return
            await asyncio.sleep(0.5)

    async def read(self, reader: Reader):
        """Follows a ticket's purchases by number until the run is over and
        a last page read after that has been seen."""
        connections = {}
        while True:
            final = self.final.is_set()
            path = f"/tickets/{reader.ticket}/purchases?limit={reader.limit}"
            if reader.last:
                path += f"&cursor={reader.last}"
            answer = await self.send(connections, self.next_replica(), "purchase list", "GET", path)
            if answer is not None and answer.status != 200 and answer.status < 500:
                # A refusal is for good (a ticket gone is a lost write):
                # asking again would only run the clock out.
                self.problem(f"GET {path}: unexpected {answer.status}")
                return
            if answer is None or answer.status != 200:
                await asyncio.sleep(0.2)
                continue
            page = answer.json()
            reader.pages += 1
            for item in page["items"]:
                if item["number"] != reader.last + 1:
                    self.problem(f"reader of ticket {reader.ticket}: number {item['number']} after {reader.last}")
                reader.last = item["number"]
                reader.ids.append(item["id"])
            if "next_cursor" in page:
                if page["next_cursor"] != str(reader.last):
                    self.problem(f"reader of ticket {reader.ticket}: next_cursor {page['next_cursor']} "
                                 f"after number {reader.last}")
                continue
            if final:
                return
            await asyncio.sleep(0.2)

    async def traffic(self, psql: str):
        self.tiny = await self.create_ticket("tiny", TINY_ALLOCATION)
        self.regular = [await self.create_ticket("regular", 1_000_000_000) for _ in range(REGULAR_TICKETS)]
        self.readers = [Reader(self.tiny, 7), Reader(self.regular[0], 20), Reader(self.regular[1], 200)]
        reading = [asyncio.create_task(self.read(r)) for r in self.readers]
        buying = [asyncio.create_task(self.buyer()) for _ in range(BUYERS)]
        # The hot ticket comes after a warm-up, sized from the warm-up's rate
        # so that it sells out about halfway through the rest of the run.
        warm_up = min(20.0, self.duration / 10)
        await asyncio.sleep(warm_up)
        rate = self.sold_before_hot / warm_up
        allocation = max(100, int(rate * HOT_SHARE * (self.duration - warm_up) / 2))
        self.hot = await self.create_ticket("hot", allocation)
        hot_readers = [Reader(self.hot, 50), Reader(self.hot, 200)]
        self.readers += hot_readers
        reading += [asyncio.create_task(self.read(r)) for r in hot_readers]
        await asyncio.gather(*buying)
        settle(psql)
        self.final.set()
        await asyncio.gather(*reading)

    def observed(self) -> dict:
        return {
            "started": self.started,
            "duration": self.duration,
            "replicas": len(self.replicas),
            "tickets": self.tickets,
            "hot": self.hot,
            "hot_sold_out_at": self.hot_sold_out_at,
            "statuses": self.statuses,
            "missing_retry_after": self.missing_retry_after,
            "failures": [vars(f) for f in self.failures],
            "purchases": self.purchases,
            "problems": self.problems,
            "readers": [vars(r) for r in self.readers],
        }


def settle(psql: str):
    """Waits until the database has run no statement for a moment, so that
    every purchase that will ever commit has committed before the readers'
    last pages."""
    quiet = 0
    for _ in range(200):
        busy = subprocess.run(
            [psql, "-X", "-q", "-tA", os.environ["DATABASE_URL"], "-c",
             "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
             "AND pid <> pg_backend_pid() AND state <> 'idle'"],
            capture_output=True, text=True, check=True).stdout.strip()
        quiet = quiet + 1 if busy == "0" else 0
        if quiet == 3:
            return
        time.sleep(0.1)
    raise SystemExit("20 s after the traffic stopped, the database still ran statements")


def traffic(args):
    soak = Soak(args.replicas.split(","), args.duration, args.holds)
    asyncio.run(soak.traffic(args.psql))
    with open(args.out, "w") as f:
        json.dump(soak.observed(), f)


@dataclass
class Fault:
    started: float
    ended: float
    kind: str
    target: str
    failures: Counter = field(default_factory=Counter)
    recovery: float = 0.0
    first_back: float = float("inf")

    def excuses(self, failure: dict, grace: float) -> bool:
        """A failure during this fault on a replica it touched."""
        touched = self.target == "db" or int(self.target) == failure["replica"]
        return touched and self.started <= failure["answered"] <= self.ended + grace


def read_faults(path: str, started: float) -> list[Fault]:
    faults = []
    with open(path) as f:
        for line in f:
            begun, ended, kind, target = line.split()
            faults.append(Fault(float(begun) - started, float(ended) - started, kind, target))
    return faults


def report(args) -> int:
    with open(args.observed) as f:
        seen = json.load(f)
    faults = read_faults(args.faults, seen["started"])
    reasons = list(args.failed)

    # The books: left + sold + held = allocation for every ticket.
    with open(args.tickets) as f:
        tickets = {int(r["id"]): r for r in csv.DictReader(f)}
    rows_by_ticket = defaultdict(list)
    with open(args.purchases) as f:
        rows = list(csv.DictReader(f))
    sold = Counter()
    for row in rows:
        rows_by_ticket[int(row["ticket_id"])].append(row)
        if row["cancelled"] != "t":
            sold[int(row["ticket_id"])] += int(row["quantity"])
    books_errors = 0
    for ticket, t in tickets.items():
        if int(t["remaining"]) + sold[ticket] + int(t["held"]) != int(t["allocation"]):
            books_errors += 1
            reasons.append(f"ticket {ticket}: {t['remaining']} left + {sold[ticket]} sold + {t['held']} held "
                           f"<> {t['allocation']} allocated")

    # Each purchase row leads back to its request by its user_id; each
    # request's answer says how many rows it may have.
    rows_by_request = defaultdict(list)
    for row in rows:
        rows_by_request[uuid.UUID(row["user_id"]).int & (2**48 - 1)].append(row)
    made = {p[0] for p in seen["purchases"]}
    stray = [n for n in rows_by_request if n not in made]
    if stray:
        books_errors += len(stray)
        reasons.append(f"{len(stray)} purchase rows that no request made (request {stray[0]}, ...)")
    committed_after, answers = Counter(), Counter()
    for n, keyed, ticket, quantity, outcome, purchase_id in seen["purchases"]:
        mine = rows_by_request.get(n, [])
        answers[outcome] += 1
        if outcome == "201":
            good = len(mine) == 1 and mine[0]["id"] == purchase_id and int(mine[0]["ticket_id"]) == ticket \
                and int(mine[0]["quantity"]) == quantity
        elif outcome in AMBIGUOUS:
            good = len(mine) <= 1
            committed_after[outcome] += len(mine)
        else:
            good = not mine and outcome == "409"
        if not good:
            books_errors += 1
            if books_errors <= 10:
                reasons.append(f"request {n} ({'keyed' if keyed else 'unkeyed'}, ticket {ticket}) "
                               f"answered {outcome} and has {len(mine)} purchase rows")

    # Readers: every purchase of the ticket, once each, in number order.
    for reader in seen["readers"]:
        expected = [r["id"] for r in sorted(rows_by_ticket[reader["ticket"]], key=lambda r: int(r["seq"]))]
        numbers = sorted(int(r["seq"]) for r in rows_by_ticket[reader["ticket"]])
        if numbers != list(range(1, len(numbers) + 1)):
            reasons.append(f"ticket {reader['ticket']}: purchase numbers are not 1..{len(numbers)}")
        if reader["ids"] != expected:
            missing = len(set(expected) - set(reader["ids"]))
            reasons.append(f"reader of ticket {reader['ticket']} (limit {reader['limit']}) saw {len(reader['ids'])} "
                           f"purchases, {len(set(reader['ids']))} distinct, {missing} missing, of {len(expected)}")
    reasons += seen["problems"][:10]
    if len(seen["problems"]) > 10:
        reasons.append(f"... {len(seen['problems']) - 10} more problems")

    # Failures only during faults, on the replicas the fault touched. Each
    # is the latest such fault's: a fault may begin within the grace after
    # the one before, and its failures are not the earlier one's slow
    # recovery.
    unexplained, server_errors = [], []
    faults.sort(key=lambda f: f.started)
    for failure in seen["failures"]:
        fault = next((f for f in reversed(faults) if f.excuses(failure, args.grace)), None)
        if failure["label"] not in ("503", "connection error"):
            server_errors.append(failure)
        elif fault is None:
            unexplained.append(failure)
        else:
            fault.failures[failure["label"]] += 1
            recovered = failure["recovered"] if failure["recovered"] is not None else seen["duration"]
            # A connection to a killed process fails whenever its client
            # next uses it, long after the replica is back: only the first
            # such failure tells when the replica answered again.
            if failure["label"] == "connection error" and failure["opened"] < fault.started:
                fault.first_back = min(fault.first_back, recovered)
            else:
                fault.recovery = max(fault.recovery, recovered - fault.started)
    for fault in faults:
        if fault.first_back < float("inf"):
            fault.recovery = max(fault.recovery, fault.first_back - fault.started)
    if server_errors:
        first = server_errors[0]
        reasons.append(f"{len(server_errors)} answers 5xx other than 503 (first: {first['label']} on replica "
                       f"{first['replica']}, {first['kind']}, at {first['answered']:.1f} s)")
    if unexplained:
        first = unexplained[0]
        reasons.append(f"{len(unexplained)} failures outside any fault (first: {first['label']} on replica "
                       f"{first['replica']}, {first['kind']}, at {first['answered']:.1f} s)")
    if seen["missing_retry_after"]:
        reasons.append(f"{seen['missing_retry_after']} answers 503 without Retry-After")
    if answers["unresolved"]:
        reasons.append(f"{answers['unresolved']} keyed purchases without a definite answer")

    print_tables(seen, faults, answers, committed_after)
    purchases = len(rows)
    keyed = sum(1 for p in seen["purchases"] if p[1] and p[4] == "201")
    created = answers["201"]
    restarts = sum(1 for f in faults if f.kind.startswith("restart"))
    failovers = sum(1 for f in faults if f.kind in FAILOVERS)
    summary = (f"{seen['duration']:.0f} s, {seen['replicas']} replicas, {purchases:,} purchases "
               f"({100 * keyed / max(created, 1):.0f}% keyed), {counted(restarts, 'restart')}, "
               f"{counted(len(faults) - restarts - failovers, 'kill')}, "
               + (f"{counted(failovers, 'failover')}, " if failovers else "")
               + f"{counted(books_errors, 'books error')}")
    if reasons:
        print("\n".join(f"  - {r}" for r in reasons))
        print(f"soak: FAIL {summary}: {'; '.join(reasons[:3])}" + ("; ..." if len(reasons) > 3 else ""))
        return 1
    print(f"soak: PASS {summary}")
    return 0


def counted(n: int, thing: str) -> str:
    return f"{n:,} {thing}" + ("" if n == 1 else "s")


def print_tables(seen, faults, answers, committed_after):
    print("| requests | " + " | ".join(LABELS) + " | other |")
    print("|---|" + "---|" * (len(LABELS) + 1))
    for kind, counts in seen["statuses"].items():
        other = sum(n for label, n in counts.items() if label not in LABELS)
        print(f"| {kind} | " + " | ".join(f"{counts.get(label, 0):,}" for label in LABELS) + f" | {other:,} |")
    print()
    print("| fault | count | failed requests | longest recovery | median recovery |")
    print("|---|---|---|---|---|")
    for kind in sorted({f.kind for f in faults}):
        mine = [f for f in faults if f.kind == kind]
        recoveries = [f.recovery for f in mine]
        print(f"| {FAULTS.get(kind, kind)} | {len(mine)} | {sum(f.failures.total() for f in mine):,} | "
              f"{max(recoveries):.1f} s | {statistics.median(recoveries):.1f} s |")
    print()
    for f in faults:
        failed = ", ".join(f"{n} {label}" for label, n in sorted(f.failures.items())) or "no failed request"
        print(f"  {f.started:6.1f} s  {FAULTS.get(f.kind, f.kind)} ({f.target}): back after "
              f"{f.ended - f.started:.1f} s; {failed}; recovered in {f.recovery:.1f} s")
    sold_out = seen["hot_sold_out_at"]
    print(f"\nHot ticket {seen['hot']} ({seen['tickets'][str(seen['hot'])]['allocation']:,} allocated): "
          + (f"sold out at {sold_out:.0f} s." if sold_out is not None else "not sold out."))
    ambiguous = ", ".join(f"{answers[o]:,} {o} ({committed_after[o]:,} committed)" for o in AMBIGUOUS)
    print(f"Purchases answered: {answers['201']:,} 201, {answers['409']:,} 409. "
          f"Unkeyed, without a definite answer: {ambiguous}.")


# An unkeyed purchase's answers that do not say whether it was bought.
AMBIGUOUS = ("503", "no answer")
LABELS = ["200", "201", "409 sold out", "409 in flight", "503", "connection error"]
FAULTS = {
    "restart-fast": "database restart (fast)",
    "restart-immediate": "database restart (immediate)",
    "kill": "server SIGKILL and restart",
    "primary-kill": "primary postmaster SIGKILL (failover)",
    "switchover": "controlled switchover",
    "primary-isolate": "primary cut off from etcd and standbys",
    "primary-freeze": "primary node frozen (SIGSTOP)",
}
FAILOVERS = ("primary-kill", "switchover", "primary-isolate", "primary-freeze")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("traffic")
    run.add_argument("--duration", type=float, required=True)
    run.add_argument("--replicas", required=True)
    run.add_argument("--psql", required=True)
    run.add_argument("--out", required=True)
    run.add_argument("--holds", type=float, default=0.0)
    check = commands.add_parser("report")
    check.add_argument("--observed", required=True)
    check.add_argument("--faults", required=True)
    check.add_argument("--tickets", required=True)
    check.add_argument("--purchases", required=True)
    check.add_argument("--grace", type=float, default=3.0)
    check.add_argument("--failed", action="append", default=[])
    args = parser.parse_args()
    if args.command == "traffic":
        traffic(args)
        return 0
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
