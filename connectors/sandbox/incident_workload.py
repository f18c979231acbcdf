"""A deterministic two-hour queue with one incident in it, for the incident replay.

`incident_workload(seed)` makes `tickets` customer tickets spread over `hours`: most are
about one of many everyday topics (each written in several ways, calm or annoyed), and
`incident_size` of them, opened within `incident_span`, are about one breakage (a
checkout that stops taking payments), each customer in their own words.  The background
is varied: no everyday topic comes up more than `max_per_window` times in half an hour,
so any incident found among it is a false one.  It feeds
bench/incidents.py and tests/daemon/test_incident_replay.py; the phrasings were written
for this project.  Customer text is data, like the real thing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Everyday topics: several ways customers put each (a ticket picks one).
BACKGROUND: dict[str, tuple[str, ...]] = {
    "invoice": ("my last invoice shows the wrong amount",
                "the invoice for March lists a plan we never had",
                "we were billed for 12 seats but only have 9 users"),
    "export": ("exporting our contacts to CSV stops halfway",
               "the CSV export file comes out empty",
               "the data export has been spinning for an hour"),
    "mobile": ("the Android app closes as soon as I open it",
               "your iPhone app crashes on startup since I updated iOS",
               "the mobile app freezes on the home screen"),
    "reset": ("the password reset email never arrives",
              "I requested a reset link three times and got nothing",
              "the reset link in your email says it has expired"),
    "shipping": ("my parcel has been stuck in transit for a week",
                 "the tracking number you sent does not exist",
                 "delivery was supposed to be Monday and nothing came"),
    "wrong-item": ("I received the blue jacket instead of the black one",
                   "the box contained someone else's shoes",
                   "the size I got is not the size I ordered"),
    "calendar": ("the Google Calendar sync duplicates every meeting",
                 "events from Outlook show up twice",
                 "our shared calendar lost all of next week's events"),
    "dashboard": ("the analytics dashboard takes a minute to load",
                  "charts on the reports dashboard are blank",
                  "the dashboard numbers don't match the raw data"),
    "notifications": ("I get the same notification ten times",
                      "push notifications stopped on my phone",
                      "I unsubscribed but the newsletter keeps coming"),
    "api": ("the API returns 429 far below our plan's rate limit",
            "webhooks stopped firing for new orders",
            "the REST endpoint for contacts times out"),
    "discount": ("the discount code SPRING20 is not applied",
                 "my coupon was rejected although it is valid until June",
                 "the promo price disappeared in the basket"),
    "upgrade": ("I upgraded to Pro but still see Basic features",
                "the plan change charged me but nothing changed",
                "downgrading the subscription is impossible in settings"),
    "import": ("importing the spreadsheet skips half the rows",
               "the Excel import mixes up first and last names",
               "uploading our product catalogue fails at 80%"),
    "search": ("search finds nothing for tickets older than a month",
               "the search bar ignores accents",
               "filters on the search results reset every time"),
    "two-factor": ("the 2FA code from the authenticator is always rejected",
                   "I lost my phone and can't get past two-factor",
                   "SMS codes arrive ten minutes late"),
    "slack-integration": ("the Slack integration posts to the wrong channel",
                          "connecting Slack fails with a permissions warning",
                          "messages from Slack arrive without attachments"),
    "pdf": ("the PDF report cuts off the last column",
            "monthly PDF statements are in the wrong language",
            "printing the PDF gives blank pages"),
    "seats": ("I can't add a new user to our workspace",
              "inviting a colleague says we have no seats left",
              "removed users still count against our licence"),
    "refund-status": ("I returned the order two weeks ago and no money yet",
                      "the return label you emailed doesn't scan",
                      "your returns portal rejects my order number"),
    "speed": ("everything in the web interface is painfully slow today",
              "saving a draft takes thirty seconds",
              "uploads crawl at 10 kB/s"),
    "dark-mode": ("dark mode makes the table text unreadable",
                  "the theme switches back to light after every login"),
    "timesheet": ("my timesheet lost Tuesday's hours",
                  "approving timesheets throws an error for managers"),
    "inventory": ("stock levels show negative numbers",
                  "the warehouse count never updates after a sale"),
    "shipping-label": ("shipping labels print upside down",
                       "the courier label has the wrong postcode"),
    "gift-card": ("the gift card balance shows zero although unused",
                  "my gift card code is not recognised"),
    "loyalty": ("my loyalty points vanished after the last purchase",
                "bonus points from the promotion were never credited"),
    "chat-widget": ("the chat widget covers our site's menu on mobile",
                    "the live chat bubble doesn't load in Safari"),
    "video": ("video calls drop after exactly ten minutes",
              "the microphone isn't detected in meetings"),
    "sharing": ("shared folders are suddenly private",
                "links to shared documents say access denied"),
    "printer": ("receipts print twice on the kitchen printer",
                "the label printer is not found over wifi"),
    "permissions": ("team members can see the billing area they shouldn't",
                    "admin rights vanished from my colleague's profile"),
    "audit-log": ("the audit log is missing yesterday's changes",
                  "audit entries show the wrong timezone"),
    "signature": ("the e-signature request expired before the client signed",
                  "signed contracts don't attach to the deal"),
    "booking": ("the booking page shows slots we blocked",
                "customers get double-booked on Saturdays"),
    "sms": ("appointment reminders by text go out a day late",
            "clients receive reminder texts in German instead of English"),
    "address": ("I can't change my delivery address",
                "the address form rejects our Irish eircode"),
    "warranty": ("my warranty claim was closed without a reply",
                 "the warranty registration page won't accept my serial number"),
    "subscription-box": ("my subscription box skipped this month",
                         "the box arrived with half the items missing"),
    "translation": ("half the interface is in Dutch since yesterday",
                    "the French translation of the invoice template is broken"),
    "password-policy": ("the new password rules won't accept any password I try",
                        "password expiry forces a change every week"),
    "tax": ("VAT is added twice on our invoices",
            "sales tax for Canada is calculated wrong"),
    "map": ("store locations show in the ocean on the map",
            "the map widget is blank on our contact page"),
    "survey": ("survey responses aren't counted in the results",
               "the feedback form sends empty submissions"),
    "backup": ("the nightly backup hasn't run since Sunday",
               "restoring a backup brings back old data only"),
    "domain": ("our custom domain shows a certificate warning",
               "DNS verification for our domain never completes"),
    "report-schedule": ("scheduled reports arrive at 3am instead of 9am",
                        "the weekly summary report stopped arriving"),
    "tickets-merge": ("merging two contacts deleted their notes",
                      "duplicate contacts keep coming back after merging"),
    "keyboard": ("keyboard shortcuts stopped working in the editor",
                 "the editor jumps to the top whenever I type"),
    "attachments": ("attachments over 5 MB silently disappear",
                    "image attachments show as broken icons"),
    "pricing-page": ("the pricing page lists a price we were never offered",
                     "the annual discount shown on your site isn't honoured"),
    "onboarding": ("the setup wizard loops back to step one",
                   "the welcome tour can't be closed"),
    "exports-excel": ("Excel files we download show garbled characters",
                      "dates in the spreadsheet download are in American format"),
    "accessibility": ("the screen reader can't read the buttons",
                      "contrast on the forms is too low for my staff"),
    "time-zone": ("all appointment times are an hour off since the clocks changed",
                  "the time zone setting doesn't save"),
    "forecast": ("the sales forecast shows last year's numbers",
                 "forecast charts ignore closed deals"),
    "mailbox": ("our shared mailbox stopped receiving customer emails",
                "emails to the support alias bounce back"),
    "labels": ("product labels lost their barcodes",
               "barcode scanning adds the wrong product"),
    "membership": ("my membership card isn't accepted at the door",
                   "the gym app shows my membership as expired"),
    "recipes": ("saved recipes disappeared from my favourites",
                "the shopping list from a recipe is empty"),
}

#: The incident: customers whose payment at checkout fails, in their own words (seven
#: name the checkout; one only says they cannot pay).
INCIDENT: tuple[str, ...] = (
    "Checkout keeps rejecting my card, it just says payment failed. I tried three cards.",
    "I can't complete checkout, the payment page errors out every single time.",
    "Is your checkout broken? My card is declined although my bank says all is fine.",
    "Payment failed at checkout twice now, and I think I was still charged once?!",
    "Stuck at checkout with 'payment could not be processed'. Very annoying.",
    "The checkout page freezes when I click Pay now. Lost my basket twice already.",
    "Trying to pay for my order and the checkout only shows error 500. Come on.",
    "I cannot pay at all, the card form won't accept anything since this afternoon.",
)

_OPENERS = ("Hi,", "Hello,", "Hi there,", "Good afternoon,", "Hey,", "Dear support,", "")
_ANNOYED = ("This is really frustrating.", "Not happy at all.", "Please sort this out, "
            "it's the second time.", "Honestly this is unacceptable.", "Very disappointing.",
            "I am losing patience here.", "What is going on?", "This is ridiculous.")
_CALM = ("Could you have a look when you get a chance?", "Thanks in advance!",
         "No rush, just letting you know.", "Is this a known issue?",
         "Happy to send screenshots if that helps.", "Thanks for your help.")
_FOLLOW_UPS = ("Any update on this?", "Still the same problem today.",
               "Thanks, I'll wait for your reply.", "Tried again, no luck.",
               "Thank you, that worked!")


@dataclass(frozen=True, slots=True)
class WorkloadMessage:
    ticket_id: str
    message_id: str
    at: datetime
    text: str
    topic: str  # "incident" for the incident's tickets


def incident_workload(start: datetime, seed: int = 7, *, tickets: int = 300,
                      hours: float = 2.0, incident_size: int = 8,
                      incident_at: float = 0.55,
                      incident_span: timedelta = timedelta(minutes=20),
                      follow_up_share: float = 0.35,
                      annoyed_share: float = 0.5,
                      max_per_window: int = 3) -> list[WorkloadMessage]:
    """Customer messages of the queue, oldest first (deterministic for a seed)."""
    rng = random.Random(seed)
    span = timedelta(hours=hours)
    topics = sorted(BACKGROUND)
    messages: list[WorkloadMessage] = []
    incident_start = start + span * incident_at
    placed: list[tuple[str, datetime]] = []
    phrasings = list(INCIDENT[:incident_size])
    rng.shuffle(phrasings)
    for number in range(tickets):
        ticket_id = f"T{1000 + number}"
        if number < incident_size:
            topic = "incident"
            at = incident_start + incident_span * rng.random()
            body = phrasings[number % len(phrasings)]
            text = f"{rng.choice(_OPENERS)} {body}".strip()
        else:
            at = start + span * rng.random()
            # Varied: a topic already raised by `max_per_window` tickets within half an
            # hour of this one is not drawn again (a topic that keeps recurring that
            # densely is exactly what the detector is meant to flag).
            crowded = {t for t, when in placed if abs((when - at).total_seconds()) < 1800}
            nearby = [t for t, when in placed if abs((when - at).total_seconds()) < 1800]
            full = {t for t in crowded if nearby.count(t) >= max_per_window}
            topic = rng.choice([t for t in topics if t not in full] or topics)
            placed.append((topic, at))
            problem = rng.choice(BACKGROUND[topic])
            mood = rng.choice(_ANNOYED if rng.random() < annoyed_share else _CALM)
            text = f"{rng.choice(_OPENERS)} {problem[0].upper()}{problem[1:]}. {mood}".strip()
        messages.append(WorkloadMessage(ticket_id, f"{ticket_id}-1", at, text, topic))
        if rng.random() < follow_up_share:
            later = at + timedelta(minutes=rng.uniform(5, 40))
            if later < start + span:
                messages.append(WorkloadMessage(ticket_id, f"{ticket_id}-2", later,
                                                rng.choice(_FOLLOW_UPS), topic))
    messages.sort(key=lambda m: (m.at, m.message_id))
    return messages
