"""The built-in demo mix: prompts shaped like real traffic, labelled with task and difficulty.

``triage demo`` sends these through the local stack and prints where each one went. Every task label of
the fixed vocabulary appears at least twice, most with an easy and a hard example; some prompts are a
single line, some carry a pasted document, a few come with a system prompt. The labels are the demo's
expectations, not ground truth for training.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DemoPrompt:
    """One demo request: the user turn, its task label, whether it needs a strong model, a system prompt."""

    text: str
    task: str
    hard: bool
    system: str = ""


def _block(text: str) -> str:
    return textwrap.dedent(text).strip()


_GO_FETCH = _block(
    """
    This function sometimes returns fewer results than URLs, and under load it occasionally crashes with
    "fatal error: concurrent map writes". Find every bug, explain why each one happens, and give me a
    corrected version that still fetches in parallel but never runs more than 8 requests at once.

    ```go
    func fetchAll(urls []string) map[string]int {
        results := make(map[string]int)
        var wg sync.WaitGroup
        for _, u := range urls {
            go func() {
                wg.Add(1)
                defer wg.Done()
                resp, err := http.Get(u)
                if err != nil {
                    return
                }
                results[u] = resp.StatusCode
            }()
        }
        wg.Wait()
        return results
    }
    ```
    """
)

_TOKEN_BUCKET = _block(
    """
    Our limiter is supposed to allow 10 requests per second per tenant, but during load tests a tenant
    got 40 through in one second. What's wrong?

    ```python
    class TokenBucket:
        def __init__(self, rate: float, capacity: int) -> None:
            self.rate, self.capacity = rate, capacity
            self.tokens = capacity
            self.updated = time.monotonic()

        async def acquire(self) -> None:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    await audit_log.write("acquire")
                    self.tokens -= 1
                    return
                await asyncio.sleep(1 / self.rate)

    buckets: dict[str, TokenBucket] = {}

    async def limit(tenant: str) -> None:
        if tenant not in buckets:
            await load_tenant_config(tenant)
            buckets[tenant] = TokenBucket(rate=10, capacity=10)
        await buckets[tenant].acquire()
    ```
    """
)

_INCIDENT = _block(
    """
    Postmortem: checkout outage, 14 March

    At 09:12 UTC a configuration change raised the connection pool size of the payments service from 50
    to 500 per instance. The change had been reviewed, but the reviewer did not know the primary
    database enforces a limit of 2,000 connections in total. With 12 instances the service could now
    open 6,000 connections. Traffic was normal until the 10:00 promotional email, when payment attempts
    tripled within four minutes. The pools grew, the database refused new connections from 10:06, and
    every service sharing that database, including login and inventory, began failing. Checkout error
    rates peaked at 71%. On-call engineers first suspected the promotion's traffic and scaled the
    payments service out, which made things worse. At 10:41 a database engineer noticed the connection
    count, the pool change was reverted at 10:48, and error rates returned to baseline by 10:55.
    Estimated lost revenue is $180,000. Follow-ups: a per-service connection budget checked in CI,
    a dashboard panel for total database connections, and a runbook entry warning that scaling out a
    service can increase database pressure.
    """
)

_LEASE = _block(
    """
    The Tenant shall not, without the prior written consent of the Landlord (such consent not to be
    unreasonably withheld or delayed), assign, sublet, or otherwise part with possession of the Premises
    or any part thereof, provided always that any such consent may be given subject to reasonable
    conditions, including without limitation the provision by the Tenant of a guarantee of the
    assignee's obligations, and the Tenant shall remain jointly and severally liable with any assignee
    for the performance of the covenants herein until the expiry of the Term.
    """
)

_INVOICE = _block(
    """
    INVOICE #A-20931
    Northwind Office Supply Ltd., 14 Harbour Row, Leith, EH6 6QR
    Bill to: Calloway Design Studio, attn. Priya Raman
    Issued 03/04/2025 — payment due within 30 days of issue.
    2 x ergonomic chair (model KX-40) @ £289.00
    1 x standing desk frame, assembly included, £412.50
    5 x monitor arm @ £46.20, 10% volume discount applied to this line
    Delivery: free. VAT 20% applies to all items.
    Questions? accounts@northwind-supply.example or 0131 496 0000
    """
)

_MEETING = _block(
    """
    notes from tues sync:
    - Dana will get the vendor quotes for the new laptops, ideally before the budget review next friday
    - we agreed the onboarding doc is outdated; Marco to rewrite the setup section, no date set
    - Lee said the staging DB migration is blocked until infra approves the firewall change; Lee to chase
      infra by EOD wednesday
    - retro moved to the 18th
    """
)

_JOB_POST = _block(
    """
    We're hiring! Senior Data Engineer (hybrid, 3 days/week in our Rotterdam office). You'll own our
    streaming pipelines (Kafka, Flink) and help us move batch jobs off a legacy Hadoop cluster. We expect
    5+ years of experience, strong Python or Scala, and you must be eligible to work in the EU. Nice to
    have: dbt, Terraform. Salary €78k–€95k depending on experience, plus 8% holiday allowance. Apply by
    30 June; interviews start in the first week of July.
    """
)

_DEBATE = _block(
    """
    Supporters of the four-day week point to pilot programmes in which most participating companies kept
    the schedule after the trial ended, reporting lower burnout, fewer sick days and easier hiring, with
    revenue roughly flat or slightly up. Critics answer that the pilots were self-selected: firms that
    volunteered were likely already suited to the change, mostly office-based, and measured productivity
    through self-reports rather than output. They also note that in hospitals, schools and shops, a
    shorter week for the same staff means either more hires or reduced opening hours, costs the pilots
    did not have to face. Some economists take a middle position, arguing that the gains come less from
    the fifth day off than from the meeting cuts and process changes companies made to fit the work into
    four days, and that those changes could be adopted without shortening the week.
    """
)

DEMO_PROMPTS: tuple[DemoPrompt, ...] = (
    # -- code ---------------------------------------------------------------------------------------
    DemoPrompt("how do i reverse a list in python without changing the original one", "code", hard=False),
    DemoPrompt(
        "Write a bash one-liner that counts the lines in every .py file under the current directory "
        "(recursively) and prints only the grand total.",
        "code",
        hard=False,
    ),
    DemoPrompt(_GO_FETCH, "code", hard=True),
    DemoPrompt(
        _TOKEN_BUCKET,
        "code",
        hard=True,
        system="You are a senior Python reviewer. Answer with a unified diff, then at most five bullet "
        "points explaining the changes. Do not restate the code.",
    ),
    DemoPrompt(
        "Postgres: table orders(customer_id int, created_at timestamptz). I need, for each customer, the "
        "longest streak of consecutive calendar days (in Europe/Berlin time) with at least one order, plus "
        "the start and end date of that streak. Ties go to the most recent streak. One query please, no "
        "functions.",
        "code",
        hard=True,
    ),
    # -- math ---------------------------------------------------------------------------------------
    DemoPrompt("what's 15% of 240", "math", hard=False),
    DemoPrompt("Solve for x: 3x + 7 = 25. Show the steps.", "math", hard=False),
    DemoPrompt(
        "How many ordered triples (a, b, c) of positive integers with a ≤ b ≤ c satisfy "
        "a·b·c = 2^10 · 3^6 and gcd(a, b, c) = 1? Justify the count carefully; a bare number is not "
        "enough.",
        "math",
        hard=True,
    ),
    DemoPrompt(
        "A fair six-sided die is rolled repeatedly and the results are added up until the running total "
        "is at least 20. What is the probability that the total is exactly 20 when we stop? Give the exact "
        "fraction and explain the recurrence you used, then say what the probability tends to for a large "
        "target instead of 20 and why.",
        "math",
        hard=True,
    ),
    # -- reasoning ----------------------------------------------------------------------------------
    DemoPrompt(
        "My flight leaves at 7:40 and I want to be at the airport 90 minutes before. The drive is about "
        "35 minutes and I need 10 minutes to park. When should I leave home?",
        "reasoning",
        hard=False,
    ),
    DemoPrompt(
        "If every bloop is a razzie and some razzies are lazzies, does it follow that some bloops are "
        "lazzies? Yes or no, and one sentence why.",
        "reasoning",
        hard=False,
    ),
    DemoPrompt(
        _block(
            """
            Five colleagues (Ana, Ben, Chloé, Dev, Emeka) sit in a row of five desks numbered 1 to 5
            from the window. Each prefers a different drink: tea, coffee, water, juice, cocoa.
            1. Ben sits directly to the right of the coffee drinker (higher number).
            2. Chloé is not at either end and does not drink tea.
            3. The cocoa drinker sits at desk 1.
            4. Dev sits next to Ana.
            5. The water drinker sits next to both Emeka and the juice drinker.
            6. Ana drinks juice, and Emeka sits at a higher number than Chloé.
            Who sits at each desk and what does each drink? Is the solution unique? Show how you
            eliminated the alternatives.
            """
        ),
        "reasoning",
        hard=True,
    ),
    DemoPrompt(
        "I need a 45-minute call with people in San Francisco, London and Bangalore next Tuesday. SF "
        "can't start before 8:00, London must finish by 18:00, and Bangalore won't take calls after 21:30 "
        "or during 13:00-14:00 lunch. Daylight saving has started in the US but not yet in the UK. Which "
        "start times work, in each local time? If none work, what's the least bad compromise and why?",
        "reasoning",
        hard=True,
    ),
    # -- extraction ---------------------------------------------------------------------------------
    DemoPrompt(
        "pull out the email addresses from this: 'ping maria.lopez@example.org or the team list "
        "(dev-team@example.com), not the old one at ops@legacy.example.net which is dead'",
        "extraction",
        hard=False,
    ),
    DemoPrompt(
        "Turn these notes into a table of action items with columns owner, task, due date (leave due "
        "date empty when none is given):\n\n" + _MEETING,
        "extraction",
        hard=False,
    ),
    DemoPrompt(
        "Extract this invoice into JSON with keys invoice_number, supplier, customer, issue_date "
        "(ISO 8601; it's a UK invoice), due_date, line_items (description, quantity, unit_price, "
        "line_total after discounts), subtotal, vat, total. Amounts as numbers in GBP, two decimals. "
        "Compute anything not stated.\n\n" + _INVOICE,
        "extraction",
        hard=True,
    ),
    DemoPrompt(
        _JOB_POST,
        "extraction",
        hard=True,
        system="You extract structured data from job postings. Reply with one JSON object only, with "
        "keys: title, seniority, location, remote_policy, required_skills (array), nice_to_have "
        "(array), min_years_experience (integer), salary_min, salary_max, currency, application "
        "deadline (ISO date, assume the current year is 2025). Use null for anything missing.",
    ),
    # -- summarization ------------------------------------------------------------------------------
    DemoPrompt(
        "tl;dr this email please: 'Hi all, quick update — the office will be closed on Monday for the "
        "electrical work we mentioned last month. The contractor now says they might need Tuesday morning "
        "too, so plan to work from home until at least noon Tuesday. Parking passes are unaffected. "
        "Thanks, Facilities'",
        "summarization",
        hard=False,
    ),
    DemoPrompt(
        "Summarise in one sentence: Honeybees communicate the location of food through the waggle "
        "dance, a figure-eight movement whose angle relative to vertical encodes the direction of the "
        "food relative to the sun and whose duration encodes the distance.",
        "summarization",
        hard=False,
    ),
    DemoPrompt(
        "Summarise this postmortem for the executive team: three bullet points, no jargon, keep every "
        "number that matters, and end with one line on what we are changing.\n\n" + _INCIDENT,
        "summarization",
        hard=True,
    ),
    DemoPrompt(
        "Summarise the positions in this passage in a neutral way: one short paragraph per position, "
        "and do not say which side is right.\n\n" + _DEBATE,
        "summarization",
        hard=True,
    ),
    # -- translation --------------------------------------------------------------------------------
    DemoPrompt("translate 'good morning' into Spanish", "translation", hard=False),
    DemoPrompt(
        "How do I say 'Excuse me, where is the train station?' in Japanese? Polite form, with romaji.",
        "translation",
        hard=False,
    ),
    DemoPrompt(
        "Translate these release notes into German for our business customers. Use the formal 'Sie', "
        "keep product and API names in English, and keep the bullet structure.\n\n"
        "- Exports now run in the background: you can keep working and we'll email you when the file "
        "is ready.\n- Fixed a bug where shared dashboards showed times in UTC instead of the viewer's "
        "time zone.\n- The `/v2/reports` endpoint is deprecated and will stop working on 1 October; "
        "please migrate to `/v3/reports`, which supports pagination.",
        "translation",
        hard=True,
    ),
    # -- classification -----------------------------------------------------------------------------
    DemoPrompt(
        "Sentiment (positive / negative / mixed)? 'Battery life is fantastic, but the screen scratches "
        "if you so much as look at it.'",
        "classification",
        hard=False,
    ),
    DemoPrompt(
        _block(
            """
            Classify each support ticket as one of: billing, bug, feature_request, account_access,
            other. Answer as JSON mapping ticket id to label.
            T1: "I was charged twice for March, can someone look into it"
            T2: "The export button does nothing in Safari"
            T3: "Would love a dark mode!!"
            T4: "I changed my phone and now the 2FA codes don't work, locked out"
            T5: "Your invoice PDF shows the wrong VAT number so finance rejected it"
            T6: "can you add SSO? also the app crashes when I upload a 50MB file"
            """
        ),
        "classification",
        hard=True,
    ),
    DemoPrompt(
        "Is this email phishing? Answer 'phishing' or 'legitimate' and list the signals you used.\n\n"
        "From: IT Service Desk <it-support@examp1e-corp.com>\nSubject: Mailbox quota exceeded\n\n"
        "Your mailbox has exceeded its storage limit. To avoid losing incoming messages, validate your "
        "account within 24 hours here: http://examp1e-corp.mail-quota.example.net/validate\n\n"
        "Thank you, IT Service Desk",
        "classification",
        hard=False,
    ),
    # -- creative_writing ---------------------------------------------------------------------------
    DemoPrompt("write a haiku about a cat watching the rain", "creative_writing", hard=False),
    DemoPrompt(
        "Write a limerick for a coworker's retirement card. Her name is Dolores, she's been our "
        "accountant for 31 years and she's famous for her spreadsheets. Keep it kind.",
        "creative_writing",
        hard=False,
    ),
    DemoPrompt(
        "Write a 300-word short story in the second person, set on a generation ship two centuries into "
        "its voyage. The twist (that the ship arrived years ago and the council hid it) must come out "
        "only through dialogue. No adverbs ending in -ly, and the last line must echo the first.",
        "creative_writing",
        hard=True,
    ),
    # -- brainstorming ------------------------------------------------------------------------------
    DemoPrompt(
        "give me 10 name ideas for a coffee shop that also sells second hand books", "brainstorming", hard=False
    ),
    DemoPrompt(
        "Rainy Saturday, two kids aged 5 and 8, no screens allowed, small flat. Ideas?",
        "brainstorming",
        hard=False,
    ),
    DemoPrompt(
        "We're a 12-person B2B SaaS company (scheduling software for dental clinics), ~400 customers, "
        "monthly churn went from 1.8% to 3.1% in two quarters, mostly small single-dentist practices in "
        "their first 90 days. Brainstorm 8 experiments to bring churn down. For each: the hypothesis, "
        "what we'd change, the metric, how long it needs to run to tell, and rough cost in engineer-weeks. "
        "Rank them by expected value.",
        "brainstorming",
        hard=True,
    ),
    # -- rewrite ------------------------------------------------------------------------------------
    DemoPrompt("make this sound more polite: 'Send me the report by tomorrow.'", "rewrite", hard=False),
    DemoPrompt(
        "Cut this cover letter paragraph to under 80 words without losing the numbers: 'In my current "
        "role as a logistics coordinator at a mid-sized distribution company, I have been responsible for "
        "a wide range of tasks, including but not limited to managing relationships with more than 40 "
        "carriers, and in the course of doing so I was able to successfully renegotiate contracts in a "
        "way that led to a reduction in our annual shipping costs of approximately 12%, which amounted "
        "to savings of roughly $310,000, while at the same time improving our on-time delivery rate from "
        "88% to 96% over a period of about eighteen months.'",
        "rewrite",
        hard=False,
    ),
    DemoPrompt(
        "Rewrite this lease clause in plain English that a 14-year-old could follow. Keep every "
        "obligation and condition; don't add advice.\n\n" + _LEASE,
        "rewrite",
        hard=True,
    ),
    # -- open_qa ------------------------------------------------------------------------------------
    DemoPrompt("what's the capital of australia", "open_qa", hard=False),
    DemoPrompt(
        "hey! just finished the Martian and loved it. what should I read next?",
        "open_qa",
        hard=False,
        system="You are Paige, the friendly book assistant of a neighbourhood library. Keep answers under "
        "100 words and mention whether the library's catalogue usually stocks the book.",
    ),
    DemoPrompt("How long do I boil an egg for a runny yolk?", "open_qa", hard=False),
    DemoPrompt("Why is the sky blue, but sunsets red?", "open_qa", hard=False),
    DemoPrompt(
        "What's the difference between 'consistency' in the CAP theorem and the C in ACID? Give one "
        "example of a system that is consistent in one sense but not the other, and explain how "
        "serializable isolation relates to linearizability.",
        "open_qa",
        hard=True,
    ),
)
