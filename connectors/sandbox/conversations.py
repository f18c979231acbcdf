"""Support conversations the sandboxes of every vendor are seeded with.

A vendor-neutral library: each `Conversation` is a subject, a customer and ordered
`Turn`s (customer message, agent reply or internal note, with the minutes since the
previous turn).  The scripts were written for this project to cover what the daemon must
tell apart: calm and resolved threads, customers who get angrier with every reply (the
article's decline rule), ones who calm down, a single very negative message, churn and
legal threats, manager requests, repeat contacts, HTML bodies, quoted replies with
signatures, a non-English one and an emoji one.  `schedule()` lays scripts out in time
(some already in the recent past, the rest still to arrive) so a sandbox can make them
"keep arriving"; `generate()` makes large deterministic workloads for benchmarks.  Each
vendor sandbox maps these onto its own wire format.  Customer text here is data, never
instructions, like the real thing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

TurnRole = Literal["customer", "agent", "note"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a script; `after_minutes` counts from the previous turn."""

    role: TurnRole
    text: str
    after_minutes: float = 5.0
    html: bool = False  # `text` is an HTML body (as email channels deliver it)


@dataclass(frozen=True, slots=True)
class Conversation:
    """One ticket's script.  `expect` names what a correct daemon should conclude.

    Expectations use the seed's rules and signals: "declining" (trend declining and
    mean of the last 3 customer scores below -0.5), "very_negative" (a customer message
    below -0.7), "calm" (neither), "improving", and signal names such as "churn_risk".
    They are for tests and demos; the daemon never reads them.
    """

    key: str
    subject: str
    customer_name: str
    customer_email: str
    turns: tuple[Turn, ...]
    expect: frozenset[str] = frozenset()
    agent_name: str = "Sam Rivera"
    priority: str = "normal"
    tags: tuple[str, ...] = ()  # tags an agent or a trigger already put on the ticket

    @property
    def customer_turns(self) -> tuple[Turn, ...]:
        return tuple(turn for turn in self.turns if turn.role == "customer")


def _c(text: str, after: float = 5.0, *, html: bool = False) -> Turn:
    return Turn("customer", text, after, html)


def _a(text: str, after: float = 5.0, *, html: bool = False) -> Turn:
    return Turn("agent", text, after, html)


def _n(text: str, after: float = 2.0) -> Turn:
    return Turn("note", text, after)


CONVERSATIONS: tuple[Conversation, ...] = (
    Conversation(
        key="calm-resolved",
        subject="Question about exporting invoices as CSV",
        customer_name="Priya Natarajan", customer_email="priya.natarajan@example.com",
        turns=(
            _c("Hi there, is it possible to export all of last quarter's invoices as one "
               "CSV file? Our accountant would love that. Thanks a lot!", 0),
            _a("Hi Priya, yes: go to Billing > Invoices, pick the date range and choose "
               "Export > CSV. Let me know if anything looks off.", 18),
            _c("Perfect, that worked great. Thank you so much for the quick answer!", 25),
            _a("Glad it helped. Have a lovely week!", 6),
        ),
        expect=frozenset({"calm"}), tags=("billing",),
    ),
    Conversation(
        key="calm-then-angry",
        subject="Order #48213 has not arrived",
        customer_name="Marcus Feld", customer_email="marcus.feld@example.net",
        turns=(
            _c("Hello, I ordered a standing desk (order #48213) twelve days ago and I'm "
               "really excited to use it! The tracking page has not changed since Monday "
               "though, could you check on it? Thanks.", 0),
            _a("Hi Marcus, thanks for reaching out. I've asked the carrier for an update "
               "and will get back to you within 24 hours.", 40),
            _c("It has been three days and I still have no update. I need the desk for "
               "work, could you please check again?", 60 * 24 * 3),
            _n("Carrier says the parcel is stuck at the regional depot, no ETA.", 30),
            _a("I'm sorry for the wait. The parcel is at the regional depot; I've opened "
               "a trace with the carrier.", 10),
            _c("This is unacceptable. I paid for express shipping and I'm still waiting "
               "with no desk and no real answer. Terrible service.", 60 * 20),
            _c("Still nothing. I am furious. Your company is useless and I feel completely "
               "ignored. I want a full refund now.", 60 * 6),
            _c("Worst experience ever. Absolutely disgusting service, I'm disputing the "
               "charge with my bank and telling everyone to avoid you.", 90),
        ),
        expect=frozenset({"declining", "very_negative"}), priority="normal",
    ),
    Conversation(
        key="angry-then-calm",
        subject="Charged twice for my subscription",
        customer_name="Elena Sokolova", customer_email="e.sokolova@example.org",
        turns=(
            _c("You charged my card TWICE this month. This is ridiculous, outrageous and I "
               "am absolutely furious. The worst billing mess I have ever seen.", 0),
            _c("And your chat bot just keeps sending me in circles. Terrible, useless.", 10),
            _a("Hi Elena, I'm very sorry about that. I can see the duplicate charge and "
               "I've refunded it just now; it should show in 3-5 business days.", 15),
            _c("OK, thank you for sorting it out so fast. I really appreciate it, great "
               "help.", 45),
            _c("The refund arrived today. Wonderful service, thank you so much, all good "
               "now and I'm happy!", 60 * 72),
        ),
        expect=frozenset({"improving", "very_negative"}),
    ),
    Conversation(
        key="single-very-negative",
        subject="App deleted all my notes",
        customer_name="Tom Okafor", customer_email="tom.okafor@example.com",
        turns=(
            _c("Your latest update DELETED every single note I had. Years of work, gone. "
               "This is a horrible, disgusting, catastrophic failure and I am absolutely "
               "furious. I hate this app, it is the worst garbage I have ever paid for.",
               0),
        ),
        expect=frozenset({"very_negative"}), priority="high",
    ),
    Conversation(
        key="churn-threat",
        subject="Thinking about cancelling",
        customer_name="Hannah Becker", customer_email="hannah@becker-design.example",
        turns=(
            _c("Hi, the sync between the desktop and mobile apps has been flaky for two "
               "weeks now.", 0),
            _a("Hi Hannah, sorry to hear that. Could you send us the app versions you are "
               "on? We'll look into it.", 30),
            _c("Sent them yesterday and nothing since. Honestly we are evaluating "
               "alternatives. If this isn't fixed by Friday we will cancel our subscription "
               "and switch to a competitor.", 60 * 26),
        ),
        expect=frozenset({"churn_risk"}),
    ),
    Conversation(
        key="legal-threat",
        subject="Data deletion request ignored",
        customer_name="Olivier Marchand", customer_email="o.marchand@example.fr",
        turns=(
            _c("I asked you on the 3rd to delete all my personal data under GDPR and "
               "received nothing. This is a legal obligation.", 0),
            _a("Hello Olivier, thank you for your message. I've forwarded your request to "
               "our privacy team.", 120),
            _c("A month has passed. If my data is not deleted within 7 days my lawyer will "
               "file a complaint with the data protection authority and we will take legal "
               "action. This is outrageous.", 60 * 24 * 9),
        ),
        expect=frozenset({"legal_threat"}), priority="high",
    ),
    Conversation(
        key="manager-request",
        subject="Escalation: wrong item delivered again",
        customer_name="Grace Liu", customer_email="grace.liu@example.com",
        turns=(
            _c("I received the wrong size for the second time this month.", 0),
            _a("Hi Grace, I apologise. A replacement in the right size ships today.", 50),
            _c("That's what I was told last time. I want to speak to a manager or a "
               "supervisor, not another apology. Please escalate this.", 60 * 5),
        ),
        expect=frozenset({"manager_request"}),
    ),
    Conversation(
        key="repeat-contact",
        subject="Password reset email never arrives",
        customer_name="Diego Alvarez", customer_email="diego.alvarez@example.es",
        turns=(
            _c("The password reset email never arrives. I checked spam.", 0),
            _a("Hi Diego, I've re-sent it manually. It can take a few minutes.", 35),
            _c("This is the third time I'm asking about this. I already contacted you "
               "twice last week and still can't log in. Why does nobody read my emails?",
               60 * 30),
        ),
        expect=frozenset({"repeat_contact"}),
    ),
    Conversation(
        key="html-email",
        subject="Invoice PDF is blank",
        customer_name="Sophie Turner-Hale", customer_email="sophie@hale-legal.example",
        turns=(
            _c("<div dir=\"ltr\"><p>Hello,</p><p>The invoice PDF for <b>October</b> opens "
               "as a <i>blank page</i> in every viewer I tried.</p><p>Could you have a "
               "look?</p><br><div class=\"gmail_signature\">Sophie Turner-Hale<br>Office "
               "Manager, Hale Legal<br>+44 20 7946 0000</div></div>", 0, html=True),
            _a("<p>Hi Sophie, thanks for flagging this. We found a rendering bug and a fixed "
               "PDF is attached.</p>", 40, html=True),
            _c("<div><p>Thanks, the new file opens fine. Much appreciated!</p>"
               "<blockquote class=\"gmail_quote\">Hi Sophie, thanks for flagging this. We "
               "found a rendering bug</blockquote></div>", 55, html=True),
        ),
        expect=frozenset({"calm"}),
    ),
    Conversation(
        key="quoted-reply",
        subject="Re: Your API keys stopped working",
        customer_name="Bartholomew Quinn", customer_email="bart.quinn@example.io",
        turns=(
            _c("Hi, since this morning all our API keys return 401. Nothing changed on our "
               "side.\n\nBest,\nBart\n--\nBartholomew Quinn | CTO | Quinn Analytics", 0),
            _a("Hi Bart, we rotated signing keys at 06:00 UTC; keys created before March "
               "need to be regenerated. Sorry for the disruption.", 25),
            _c("OK, regenerating them now. A heads-up email next time would be "
               "appreciated.\n\nOn Tue, 3 Nov 2026 at 09:12, Sam Rivera "
               "<support@example.com> wrote:\n> Hi Bart, we rotated signing keys at 06:00 "
               "UTC; keys created before March\n> need to be regenerated. Sorry for the "
               "disruption.\n\n--\nBartholomew Quinn | CTO | Quinn Analytics\nSent from my "
               "phone", 20),
        ),
        expect=frozenset({"calm"}),
    ),
    Conversation(
        key="non-english",
        subject="Problème de facturation",
        customer_name="Camille Dubois", customer_email="camille.dubois@example.fr",
        turns=(
            _c("Bonjour, j'ai été facturée deux fois pour le même mois. C'est inadmissible, "
               "je veux être remboursée immédiatement.", 0),
            _a("Bonjour Camille, toutes nos excuses. Le remboursement a été effectué "
               "aujourd'hui.", 30),
            _c("Merci beaucoup pour votre réactivité, c'est parfait.", 90),
        ),
        # "C'est inadmissible ... immédiatement" is angry in any language: once the
        # scorer reads French, the first message escalates, and the reply calms it.
        expect=frozenset({"very_negative"}),
    ),
    Conversation(
        key="emoji",
        subject="Love the new dashboard",
        customer_name="Aiko Tanaka", customer_email="aiko.tanaka@example.jp",
        turns=(
            _c("The new dashboard is amazing 😍🎉 the dark mode is exactly what I wanted, "
               "great job team! 👏", 0),
            _a("Thank you Aiko! We'll pass that on to the design team 😊", 12),
            _c("One tiny thing: the export button is hidden on mobile 🙈 but still love "
               "it ❤️", 30),
        ),
        expect=frozenset({"calm"}),
    ),
    Conversation(
        key="slow-burn-outage",
        subject="Checkout page keeps timing out",
        customer_name="Noah Williams", customer_email="noah@williams-outdoor.example",
        turns=(
            _c("Hi team, we love the new checkout and sales have been great! Today it "
               "seems a little slow for some customers though. Can you check? Thanks!", 0),
            _n("Linked to incident INC-2231 (payment gateway latency).", 8),
            _a("Hi Noah, we're aware of elevated latency with one payment provider and "
               "are working on it.", 4),
            _c("We are losing sales every hour this is down. This is really bad, awful "
               "and frustrating.", 45),
            _c("Three hours now. Completely unacceptable, we've lost thousands. Nobody "
               "gives me a straight answer. Terrible.", 120),
            _c("This is a disaster. I'm furious, you have ruined our biggest sales day. "
               "Awful, horrible, terrible service. I hate this.", 40),
        ),
        expect=frozenset({"declining", "very_negative"}), priority="high",
    ),
    Conversation(
        key="agent-note-heavy",
        subject="Feature request: SSO with Okta",
        customer_name="Fatima Zahra", customer_email="fatima.zahra@example.ma",
        turns=(
            _c("Hello, do you support SSO with Okta on the Business plan?", 0),
            _n("Okta SSO is Enterprise only; check whether sales offers a trial.", 6),
            _n("Sales says a 30-day Enterprise trial is fine.", 40),
            _a("Hi Fatima, SSO is part of Enterprise, and we can enable a free 30-day "
               "trial for you to try Okta.", 5),
            _c("That sounds good, please enable the trial. Thanks!", 20),
        ),
        expect=frozenset({"calm"}),
    ),
)


def by_key(key: str) -> Conversation:
    for conversation in CONVERSATIONS:
        if conversation.key == key:
            return conversation
    raise KeyError(key)


#: A release breaks login: six customers of one helpdesk write within a few minutes,
#: each in their own words.  No single message is furious, so no per-ticket rule need
#: fire; together they are an incident (rules/incidents.py).  `make run` plays them in
#: the Freshdesk sandbox right after the backlog (`outage: true`, see `with_outage`).
OUTAGE: tuple[Conversation, ...] = tuple(
    Conversation(
        key=f"login-outage-{number}", subject=subject, customer_name=name,
        customer_email=f"{name.split()[0].lower()}@{domain}",
        turns=(_c(text, 0), _a("Thanks for letting us know. We're seeing reports of login "
                              "problems and our engineers are on it; I'll update you here.",
                              6)),
        expect=frozenset({"incident"}))
    for number, (subject, name, domain, text) in enumerate((
        ("Can't log in since this morning", "Hannah Weber", "weber-consulting.example",
         "Hi, since this morning I can't log in to the dashboard at all. It says 'session "
         "expired' and throws me straight back to the login page. I've cleared my cookies "
         "twice. Really frustrating, we have payroll to run today."),
        ("Whole team locked out", "Marcus Bell", "bell-logistics.example",
         "Login is broken for our whole team. Nobody here can sign in since about 9am. Is "
         "something down on your side? We are completely stuck."),
        ("Login spins forever after update", "Aiko Tanaka", "tanaka-design.example",
         "Your latest update broke the login. I enter my password, the page spins forever "
         "and then nothing happens. Not acceptable for a product we pay for."),
        ("URGENT cannot log in", "Daniel Osei", "osei-partners.example",
         "Cannot log in!! Tried Chrome and Firefox, same error 'Something went wrong'. I "
         "have a client demo in an hour, this is a disaster."),
        ("Kicked back to sign-in screen", "Sofia Marino", "marino-studio.example",
         "Is login down? My colleagues and I keep getting kicked back to the sign-in "
         "screen. Very annoying, we've lost the whole morning."),
        ("Password reset didn't help", "Tom Eriksen", "eriksen-retail.example",
         "Still can't log in after resetting my password twice. Third time I'm writing "
         "today. What is going on over there?"),
    )))


def with_outage(conversations: Sequence[Conversation] = CONVERSATIONS, *,
                backlog: int = 4) -> tuple[Conversation, ...]:
    """The scripts with the login outage placed right after the backlog, so its six
    customers write in the first two minutes of a demo (20 s apart)."""
    return (*conversations[:backlog], *OUTAGE, *conversations[backlog:])


@dataclass(frozen=True, slots=True)
class ScheduledTurn:
    """A turn placed on the clock: `conversation_index` identifies its ticket."""

    at: datetime
    conversation_index: int
    turn_index: int
    conversation: Conversation
    turn: Turn


def schedule(start: datetime, conversations: Sequence[Conversation] = CONVERSATIONS, *,
             backlog: int = 4, backlog_window: timedelta = timedelta(minutes=10),
             backlog_end: timedelta = timedelta(minutes=2),
             time_scale: float = 1.0 / 60.0, stagger: timedelta = timedelta(seconds=20),
             max_gap: timedelta | None = None) -> list[ScheduledTurn]:
    """Lay conversations out in time around `start`, sorted by time.

    The first `backlog` conversations already happened: their turns are squeezed into
    `backlog_window` ending `backlog_end` before `start` (past the vendors' "not in the
    last minute" exclusions, inside a default lookback), so a fresh daemon sees them on
    its first poll.  The rest begin `stagger` apart from `start`, each turn `time_scale`
    times its scripted gap after the previous one (1/60: a scripted minute passes in a
    second), so they keep arriving while the daemon runs; `max_gap` caps a scaled gap
    (a scripted three-day silence need not last an hour of a demo).  Deterministic.
    """
    placed: list[ScheduledTurn] = []
    for index, conversation in enumerate(conversations):
        offsets: list[float] = []
        elapsed = 0.0
        for position, turn in enumerate(conversation.turns):
            if position:
                gap = max(turn.after_minutes, 0.0) * 60.0 * time_scale
                if max_gap is not None:
                    gap = min(gap, max_gap.total_seconds())
                elapsed += gap
            offsets.append(elapsed)
        if index < backlog:
            span = offsets[-1] or 1.0
            window = backlog_window.total_seconds()
            squeeze = min(1.0, window / span)
            end = start - backlog_end
            times = [end - timedelta(seconds=(offsets[-1] - offset) * squeeze)
                     for offset in offsets]
        else:
            begin = start + stagger * (index - backlog)
            times = [begin + timedelta(seconds=offset) for offset in offsets]
        placed.extend(ScheduledTurn(at, index, position, conversation, turn)
                      for position, (at, turn) in enumerate(zip(times, conversation.turns,
                                                                strict=True)))
    placed.sort(key=lambda item: (item.at, item.conversation_index, item.turn_index))
    return placed


# -- deterministic workloads for benchmarks ----------------------------------------------

_OPENERS = ("Hi,", "Hello,", "Hey team,", "Good morning,", "Hi there,", "Dear support,")
_PROBLEMS = (
    "the export keeps failing halfway", "my invoice shows the wrong amount",
    "the mobile app crashes on login", "I cannot add a new user to our workspace",
    "the webhook stopped firing yesterday", "search returns no results for old tickets",
    "the calendar sync duplicates every event", "my order has not shipped yet",
)
_MOODS = (
    "Thanks for your help, much appreciated!", "Could you take a look when you can?",
    "This is getting frustrating.", "Still waiting for an answer, this is unacceptable.",
    "I am really angry, this is a terrible experience.", "Great, that fixed it, thank you!",
    "We will cancel if this is not fixed this week.", "No rush, just curious.",
)
_AGENT_LINES = (
    "Thanks for the details, I'm looking into it now.",
    "I've escalated this to our engineers and will update you shortly.",
    "Could you send a screenshot of the error?",
    "This should be fixed now, please try again.",
)
_NOTE_LINES = (
    "Reproduced on staging.", "Customer is on the Business plan.",
    "Linked to a known bug, waiting for the fix.", "Offered a 10% credit.",
)
_FIRST_NAMES = ("Alex", "Jordan", "Maria", "Chen", "Fatou", "Lukas", "Ines", "Ravi", "Zoe")
_LAST_NAMES = ("Nguyen", "Smith", "Kowalski", "Haddad", "Silva", "Okoro", "Berg", "Ito")


def generate(n_tickets: int, n_messages: int, seed: int = 0, *,
             agent_share: float = 0.3, note_share: float = 0.1,
             first_minutes: float = 5.0) -> list[Conversation]:
    """`n_tickets` synthetic conversations holding `n_messages` turns in total.

    Deterministic for a seed.  Every ticket opens with a customer message; the other
    turns are agent replies with probability `agent_share`, internal notes with
    `note_share`, customer messages otherwise (both shares 0 gives customer-only load).
    Scripted gaps are `first_minutes` on average.  `iter_generate` yields the same ones
    one at a time (a workload too large to hold as objects).
    """
    return list(iter_generate(n_tickets, n_messages, seed, agent_share=agent_share,
                              note_share=note_share, first_minutes=first_minutes))


def iter_generate(n_tickets: int, n_messages: int, seed: int = 0, *,
                  agent_share: float = 0.3, note_share: float = 0.1,
                  first_minutes: float = 5.0) -> Iterator[Conversation]:
    """`generate()`, lazily; the arguments are checked on the call."""
    if n_tickets < 1 or n_messages < n_tickets:
        raise ValueError("need at least one ticket and one message per ticket")
    if agent_share < 0 or note_share < 0 or agent_share + note_share > 1:
        raise ValueError("agent_share and note_share must be >= 0 and sum to at most 1")
    return _generated(n_tickets, n_messages, random.Random(seed), seed, agent_share,
                      note_share, first_minutes)


def _generated(n_tickets: int, n_messages: int, rng: random.Random, seed: int,
               agent_share: float, note_share: float,
               first_minutes: float) -> Iterator[Conversation]:
    counts = [1] * n_tickets
    for _ in range(n_messages - n_tickets):
        counts[rng.randrange(n_tickets)] += 1
    for number, count in enumerate(counts):
        first = rng.choice(_FIRST_NAMES)
        last = rng.choice(_LAST_NAMES)
        problem = rng.choice(_PROBLEMS)
        turns: list[Turn] = []
        for position in range(count):
            gap = 0.0 if position == 0 else rng.uniform(0.5, 2.0) * first_minutes
            draw = rng.random()
            if position == 0 or draw >= agent_share + note_share:
                text = f"{rng.choice(_OPENERS)} {problem}. {rng.choice(_MOODS)}"
                turns.append(Turn("customer", text, gap))
            elif draw < agent_share:
                turns.append(Turn("agent", rng.choice(_AGENT_LINES), gap))
            else:
                turns.append(Turn("note", rng.choice(_NOTE_LINES), gap))
        yield Conversation(
            key=f"gen-{seed}-{number}", subject=problem.capitalize(),
            customer_name=f"{first} {last}",
            customer_email=f"{first.lower()}.{last.lower()}{number}@example.com",
            turns=tuple(turns), expect=frozenset(), tags=(),
        )


class ScriptPlayer:
    """Replays `conversations.schedule()` into a sandbox as the clock passes each turn.

    Vendor-neutral: `open_ticket(conversation, turn, at)` creates a ticket from a script's
    first turn and returns its id, `add_turn(ticket_id, conversation, turn, at)` appends a
    later turn.  With `repeat`, a new round of the scripts starts (as new tickets) when the
    last turn of a round has appeared, for at most `max_rounds` rounds.
    """

    def __init__(self, open_ticket: Callable[[Conversation, Turn, datetime], int],
                 add_turn: Callable[[int, Conversation, Turn, datetime], object]) -> None:
        self._open_ticket = open_ticket
        self._add_turn = add_turn
        self._pending: list[ScheduledTurn] = []
        self._tickets: dict[tuple[int, int], int] = {}
        self._options: dict[str, Any] = {}
        self._conversations: tuple[Conversation, ...] = ()
        self._repeat = False
        self._round = 0
        self.max_rounds = 100

    def start(self, conversations: Sequence[Conversation], start: datetime, *,
              repeat: bool, backlog: int, **options: Any) -> None:
        self._conversations = tuple(conversations)
        self._options = options
        self._repeat = repeat
        self._round = 1
        self._pending = schedule(start, self._conversations, backlog=backlog, **options)

    def due(self, now: datetime) -> None:
        """Materialise every turn whose time has come (the caller holds the data lock)."""
        while self._pending and self._pending[0].at <= now:
            item = self._pending.pop(0)
            key = (self._round, item.conversation_index)
            if item.turn_index == 0:
                self._tickets[key] = self._open_ticket(item.conversation, item.turn, item.at)
            elif key in self._tickets:
                self._add_turn(self._tickets[key], item.conversation, item.turn, item.at)
        if not self._pending and self._repeat and 0 < self._round < self.max_rounds:
            self._round += 1
            self._pending = schedule(now, self._conversations, backlog=0, **self._options)


class ScriptedSandbox:
    """`load` and `seed` for a sandbox that replays scripts through a `ScriptPlayer`.

    The sandbox provides `_data_lock` (an RLock), `_player`, `_open_from_script` and
    `_add_from_script`; this mixin provides the two ways of putting scripts in.
    """

    _data_lock: Any
    _player: ScriptPlayer

    def _open_from_script(self, conversation: Conversation, turn: Turn, at: datetime) -> int:
        raise NotImplementedError  # pragma: no cover - every sandbox defines it

    def _add_from_script(self, ticket_id: int, conversation: Conversation, turn: Turn,
                         at: datetime) -> object:
        raise NotImplementedError  # pragma: no cover - every sandbox defines it

    def load(self, conversations: Iterable[Conversation], start: datetime,
             step: timedelta = timedelta(seconds=1)) -> list[int]:
        """Put whole scripts in at once, `step` apart from `start`; the ticket ids."""
        ids: list[int] = []
        moment = start
        with self._data_lock:
            for conversation in conversations:
                first, *rest = conversation.turns
                ticket_id = self._open_from_script(conversation, first, moment)
                ids.append(ticket_id)
                for turn in rest:
                    moment += step
                    self._add_from_script(ticket_id, conversation, turn, moment)
                moment += step
        return ids

    def seed(self, conversations: Sequence[Conversation] = CONVERSATIONS, *,
             start: datetime | None = None, backlog: int = 4, time_scale: float = 1.0 / 60.0,
             max_gap: timedelta | None = None, stagger: timedelta = timedelta(seconds=20),
             repeat: bool = False) -> None:
        """Schedule the scripts around `start` (default now): see `schedule`.

        Turns appear as the clock passes them; `repeat` (live mode) starts new rounds.
        """
        with self._data_lock:
            self._player.start(conversations, start or datetime.now(UTC), repeat=repeat,
                               backlog=backlog, time_scale=time_scale, max_gap=max_gap,
                               stagger=stagger)
            self._player.due(datetime.now(UTC))
