"""Synthetic requests for the tasks and request shapes the public data lacks.

A ``Template`` is a phrasing with ``{slots}``; ``generate`` fills each template's slots from the pools in
``synth_vocab`` (and from passages cut from the data, when given) and adds light surface noise (casing,
greetings, missing punctuation). The hold-out group of an example is its template id, so evaluation can
measure generalisation to phrasings the model never saw.

Covered: brainstorming, rewrite/editing, creative writing, open-QA chat, code, math, reasoning,
summarization/extraction/classification requests in a chat voice, translation requests (several
instruction languages, the text to translate drawn from the project's own sentences and from MIT-licensed
BBH sources), multi-turn follow-ups, JSON-output and tool-use requests. ``strong`` is a soft prior for the
difficulty head (how often a small model would do worse), set per template by judgement.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from triage.requests.input import RoutingInput, window
from triage.train import synth_vocab as vocab
from triage.train.data import Example

SYSTEM_PROMPTS = (
    "You are a helpful assistant.",
    "You are ChatGPT, a large language model trained to be helpful, harmless and honest.",
    "You are a concise assistant. Keep answers short.",
    "You are an AI assistant for Acme Corp. Be polite and professional.",
    "Answer the user's request as well as you can.",
    "You are a friendly assistant. Use simple language.",
)


@dataclass(frozen=True, slots=True)
class Template:
    """One phrasing of one task. ``turns`` > 1 makes a follow-up in a longer conversation."""

    id: str
    task: str
    text: str
    strong: float = 0.2
    turns: int = 1
    json_output: bool = False
    has_tools: bool = False
    system: str | None = None  # None: a random generic system prompt (or none); else exactly this


@dataclass
class SynthContext:
    """Text pools the generators draw from; the defaults need no data directory."""

    passages: Sequence[str] = vocab.PASSAGES
    english: Sequence[str] = vocab.ENGLISH_SENTENCES
    german: Sequence[str] = field(default_factory=tuple)


def math_linear(r: random.Random) -> str:
    a, b, c = r.randint(2, 12), r.randint(1, 30), r.randint(10, 99)
    return f"{a}x + {b} = {c}"


def math_quadratic(r: random.Random) -> str:
    p, q = r.randint(-9, 9), r.randint(-9, 9)
    return f"x^2 {'-' if p + q >= 0 else '+'} {abs(p + q)}x {'+' if p * q >= 0 else '-'} {abs(p * q)} = 0"


def math_poly(r: random.Random) -> str:
    return f"f(x) = {r.randint(2, 9)}x^3 - {r.randint(1, 9)}x^2 + {r.randint(1, 20)}x - {r.randint(1, 9)}"


def _math_word(r: random.Random) -> str:
    name = r.choice(vocab.NAMES)
    return r.choice(
        (
            f"A train travels {r.randint(120, 600)} km in {r.randint(2, 7)} hours. What is its average speed?",
            f"{name} buys {r.randint(3, 9)} notebooks at ${r.randint(2, 6)} each and pays with a $50 bill. "
            f"How much change does {name} get?",
            f"A recipe needs {r.randint(2, 5)} cups of flour for {r.randint(10, 24)} cookies. How much flour "
            f"is needed for {r.randint(30, 90)} cookies?",
            f"A shirt costs ${r.randint(20, 80)} and is discounted by {r.choice((10, 15, 20, 25, 30))}%. "
            "What is the sale price?",
            f"The sum of two numbers is {r.randint(30, 90)} and their difference is {r.randint(2, 20)}. "
            "Find the numbers.",
            f"If {r.randint(3, 8)} workers can paint a house in {r.randint(4, 12)} days, how long would "
            f"{r.randint(9, 16)} workers take?",
        )
    )


_HARD_MATH = (
    "there are infinitely many primes of the form 4k + 3",
    "the square root of 2 is irrational",
    "for every positive integer n, n^5 - n is divisible by 30",
    "the sum of the reciprocals of the primes diverges",
    "every group of prime order is cyclic",
    "a continuous function on a closed interval attains its maximum",
    "the harmonic series diverges",
    "there is no largest prime number",
    "the product of four consecutive integers plus one is a perfect square",
    "in any group of six people there are three mutual friends or three mutual strangers",
)


def _puzzle(r: random.Random) -> str:
    a, b, c = r.sample(vocab.NAMES, 3)
    return r.choice(
        (
            f"{a} is taller than {b}. {c} is shorter than {b}. Who is the tallest, and who is the shortest?",
            f"On an island, knights always tell the truth and knaves always lie. {a} says: '{b} is a knave.' "
            f"{b} says: '{a} and I are both knights.' What are {a} and {b}?",
            f"{a}, {b} and {c} each own a different pet: a cat, a dog and a parrot. {a} does not own the "
            f"dog. {c} owns the parrot. Who owns the cat?",
            f"All {r.choice(('poets', 'pilots', 'bankers'))} in this town are "
            f"{r.choice(('early risers', 'vegetarians'))}. "
            f"{a} is an early riser. Can we conclude that {a} is a poet? Explain.",
            f"{a} was born before {b}, and {c} was born after {b} but before {r.choice(vocab.NAMES)}. "
            "Put them in order from oldest to youngest.",
            "Three boxes are labelled 'apples', 'oranges' and 'mixed', and every label is wrong. You may "
            "take one fruit from one box. How do you relabel all the boxes correctly?",
            "If it takes 5 machines 5 minutes to make 5 widgets, how long would it take 100 machines to "
            "make 100 widgets?",
            f"A bat and a ball cost ${r.choice(('1.10', '2.20', '3.30'))} in total. The bat costs $1 more "
            "than the ball. How much does the ball cost? Think carefully.",
            f"What comes next in the sequence {', '.join(str(n * (n + 1)) for n in range(1, r.randint(5, 7)))}, ...?",
        )
    )


def _corrupt(sentence: str, r: random.Random) -> str:
    """A sentence with typical writing mistakes, for proofreading requests."""
    swaps = (("the ", "teh "), ("their", "there"), (" is ", " are "), ("'s", "s"), (", ", " "), ("ed ", " "))
    out = sentence
    for a, b in r.sample(swaps, 3):
        out = out.replace(a, b, 1)
    return out[0].lower() + out[1:] if out else out


def code_block(r: random.Random) -> str:
    lang, code = r.choice(vocab.CODE_SNIPPETS)
    return r.choice((f"```{lang.lower()}\n{code}\n```", code, f"```\n{code}\n```"))


def _snippet(r: random.Random) -> str:
    """A short message of the kind people paste to have fields pulled out: email, invoice, contact, order."""
    a, b = r.sample(vocab.NAMES, 2)
    city, product = r.choice(vocab.CITIES), r.choice(vocab.PRODUCTS)
    day, month = r.randint(1, 28), r.choice(("January", "March", "May", "June", "September", "November"))
    amount = f"{r.randint(20, 9000)}.{r.randint(0, 99):02d}"
    return r.choice(
        (
            f"Hi all, the review with {b} is moved to {month} {day} at {r.randint(9, 17)}:30 in room "
            f"{r.choice('ABC')}{r.randint(100, 420)}. Please bring the figures. - {a}",
            f"Invoice #{r.randint(1000, 9999)} from {product} Ltd, amount due {r.choice(('EUR', 'USD', 'GBP'))} "
            f"{amount}, payment by {day:02d}/{r.randint(1, 12):02d}/{r.randint(2023, 2026)}.",
            f"{a} {b[0]}. | {r.choice(('Sales lead', 'CTO', 'Nurse', 'Teacher', 'Analyst'))} | "
            f"{a.lower()}@{r.choice(('example.com', 'acme.io', 'mail.example.org'))} | +44 20 {r.randint(1000, 9999)} "
            f"{r.randint(1000, 9999)}",
            f"Order {r.randint(10000, 99999)}: 2 x {product}, shipped to {city} on {month} {day}, "
            f"tracking {r.choice(('DHL', 'UPS', 'FedEx'))} {r.randint(10**8, 10**9)}.",
            f"I'm {a}, {r.randint(19, 70)}, I live in {city} and work as a "
            f"{r.choice(('nurse', 'teacher', 'plumber', 'data analyst', 'chef', 'pilot'))}.",
            f"After {r.randint(6, 15)} years at {r.choice(vocab.TECH)}, {a} joined {product} Inc in {city} in "
            f"{r.randint(2005, 2024)}, reporting to {b}.",
            f"Dosage: {r.randint(1, 3)} tablets of {r.randint(100, 500)} mg twice a day. Possible side effects: "
            f"{', '.join(r.sample(('headache', 'nausea', 'dizziness', 'rash', 'fatigue', 'dry mouth'), 3))}.",
            f"Flight {r.choice(('LH', 'BA', 'AF', 'UA'))}{r.randint(100, 999)} from {city} to "
            f"{r.choice(vocab.CITIES)} departs {month} {day} at {r.randint(5, 22)}:{r.choice(('05', '20', '45'))}, "
            f"gate {r.choice('ABCD')}{r.randint(1, 40)}, seat {r.randint(1, 40)}{r.choice('ACDF')}.",
        )
    )


def _bullets(r: random.Random) -> str:
    words = r.sample(vocab.TOPICS, 3)
    return "\n".join(f"- {w}: {r.choice(('done', 'delayed', 'needs review', 'on track'))}" for w in words)


def _slots(ctx: SynthContext, r: random.Random) -> dict[str, Callable[[], str]]:
    english = list(ctx.english) or list(vocab.ENGLISH_SENTENCES)
    foreign_pool = [s for _, s in vocab.FOREIGN_SENTENCES] + list(ctx.german)
    return {
        "topic": lambda: r.choice(vocab.TOPICS),
        "topic2": lambda: r.choice(vocab.TOPICS),
        "product": lambda: r.choice(vocab.PRODUCTS),
        "audience": lambda: r.choice(vocab.AUDIENCES),
        "tone": lambda: r.choice(vocab.TONES),
        "form": lambda: r.choice(vocab.FORMS),
        "city": lambda: r.choice(vocab.CITIES),
        "city2": lambda: r.choice(vocab.CITIES),
        "name": lambda: r.choice(vocab.NAMES),
        "name2": lambda: r.choice(vocab.NAMES),
        "lang": lambda: r.choice(vocab.LANGUAGES),
        "code_lang": lambda: r.choice(vocab.CODE_LANGS),
        "code_lang2": lambda: r.choice(vocab.CODE_LANGS),
        "code_task": lambda: r.choice(vocab.CODE_TASKS),
        "algo": lambda: r.choice(vocab.ALGO_PROBLEMS),
        "role": lambda: r.choice(vocab.ROLES),
        "prose": lambda: r.choice(vocab.PROSE_KINDS),
        "guiding": lambda: " ".join(r.sample(vocab.GUIDING_QUESTIONS, r.randint(2, 4))),
        "persona": lambda: " ".join(r.sample(vocab.PERSONA_DETAILS, r.randint(1, 3))).format(
            name=r.choice(vocab.NAMES)
        ),
        "code": lambda: code_block(r),
        "error": lambda: r.choice(vocab.ERRORS),
        "tech": lambda: r.choice(vocab.TECH),
        "tech2": lambda: r.choice(vocab.TECH),
        "concept": lambda: r.choice(vocab.CONCEPTS),
        "concept2": lambda: r.choice(vocab.CONCEPTS),
        "thing": lambda: r.choice(vocab.THINGS),
        "person": lambda: r.choice(vocab.PEOPLE),
        "country": lambda: r.choice(vocab.COUNTRIES),
        "n": lambda: str(r.randint(3, 12)),
        "year": lambda: str(r.randint(1850, 2020)),
        "passage": lambda: r.choice(ctx.passages) if ctx.passages else r.choice(vocab.PASSAGES),
        "sentence": lambda: r.choice(english),
        "bad_sentence": lambda: _corrupt(r.choice(english), r),
        "foreign": lambda: r.choice(foreign_pool),
        "german": lambda: r.choice(list(ctx.german) or [s for lang, s in vocab.FOREIGN_SENTENCES if lang == "German"]),
        "phrase": lambda: r.choice(
            (
                "good morning",
                "thank you very much",
                "where is the train station?",
                "happy birthday",
                "I am allergic to peanuts",
                "the meeting is cancelled",
                "hello",
                "see you tomorrow",
                "how much does this cost?",
                "welcome to our shop",
                "I love you",
                "no smoking",
            )
        ),
        "utterance": lambda: r.choice(vocab.INTENT_UTTERANCES),
        "symptom": lambda: r.choice(vocab.SYMPTOMS),
        "linear": lambda: math_linear(r),
        "quadratic": lambda: math_quadratic(r),
        "poly": lambda: math_poly(r),
        "word_problem": lambda: _math_word(r),
        "hard_math": lambda: r.choice(_HARD_MATH),
        "a": lambda: str(r.randint(12, 999)),
        "b": lambda: str(r.randint(12, 999)),
        "pct": lambda: str(r.choice((5, 12, 15, 20, 35, 40, 75))),
        "puzzle": lambda: _puzzle(r),
        "bullets": lambda: _bullets(r),
        "snippet": lambda: _snippet(r),
        "fields": lambda: r.choice(
            (
                "date, time and place",
                "names and email addresses",
                "amount and due date",
                "order number and tracking number",
                "name, age and city",
                "people and companies",
                "phone numbers",
                "dates and amounts",
            )
        ),
    }


class Fill(dict[str, str]):
    """``format_map`` mapping that draws each slot once per example."""

    def __init__(self, slots: dict[str, Callable[[], str]]) -> None:
        super().__init__()
        self._slots = slots

    def __missing__(self, key: str) -> str:
        value = self._slots[key]()
        self[key] = value
        return value


def _noisy(text: str, r: random.Random) -> str:
    """Light surface noise: people rarely type like templates."""
    if r.random() < 0.15:
        text = r.choice(("Hi! ", "Hey, ", "Hello. ", "Quick question: ", "Please ", "Hi there, ")) + text
    if r.random() < 0.1:
        text += r.choice((" Thanks!", " Thank you.", " thx", " Please help.", " ASAP please."))
    if r.random() < 0.2 and text[-1:] in ".?!":
        text = text[:-1]
    if r.random() < 0.2:
        text = text[:1].lower() + text[1:]
    if r.random() < 0.04:
        text = text.lower()
    return text


def render(template: Template, ctx: SynthContext, r: random.Random) -> Example:
    """One example from ``template`` with freshly drawn slots."""
    fill = Fill(_slots(ctx, r))
    text = _noisy(string.Formatter().vformat(template.text, (), fill), r)
    system = template.system
    if system is None:
        system = r.choice(SYSTEM_PROMPTS) if r.random() < 0.35 else ""
    turns = template.turns if template.turns <= 1 else r.randint(template.turns, template.turns + 3)
    inp = RoutingInput(
        api="openai.chat",
        prompt=window(text),
        system=system[:1024],
        input_chars=len(text) + len(system) + (turns - 1) * r.randint(200, 1500),
        messages=turns * 2 - 1 + (1 if system else 0),
        user_turns=turns,
        has_tools=template.has_tools,
        json_output=template.json_output,
    )
    return Example(inp, template.task, "synth", f"synth:{template.id}", strong=template.strong)


def generate(
    ctx: SynthContext, rng: random.Random, per_template: int, templates: Sequence[Template] | None = None
) -> list[Example]:
    """``per_template`` examples of every template (all of ``TEMPLATES`` by default), deterministic in ``rng``."""
    out: list[Example] = []
    for template in templates if templates is not None else TEMPLATES:
        seen: set[str] = set()
        for _ in range(per_template):
            ex = render(template, ctx, rng)
            # Templates with few slots repeat themselves; duplicates would only overweight them.
            if ex.inp.prompt not in seen:
                seen.add(ex.inp.prompt)
                out.append(ex)
    return out


def _t(task: str, strong: float, *texts: str) -> list[Template]:
    return [Template(f"{task[:5]}{i:02d}", task, text, strong) for i, text in enumerate(texts)]


TEMPLATES: tuple[Template, ...] = tuple(
    _t(
        "code",
        0.5,
        "Write a {code_lang} function that {code_task}.",
        "How do I write code that {code_task} in {code_lang}?",
        "Fix the bug in this code:\n{code}",
        "Why does this throw {error}?\n\n{code}",
        "I keep getting `{error}` when I run my script. What am I doing wrong?",
        "Explain what this code does, line by line:\n{code}",
        "Refactor this to be cleaner and more idiomatic:\n{code}",
        "Write unit tests for the following function.\n{code}",
        "Convert this snippet to {code_lang2}:\n{code}",
        "What's the difference between {tech} and {tech2}, and when should I use each in a project?",
        "Write a SQL query that returns the top {n} customers by total order value in the last year.",
        "Give me a {code_lang} class that {code_task}, with type hints and docstrings.",
        "Write a Dockerfile and a docker-compose file for a {tech} service backed by {tech2}.",
        "Write a regex that matches valid IPv4 addresses and explain it.",
        "My {tech} deployment fails with {error}. How do I debug it?",
        "Optimise this function, it is too slow on large inputs:\n{code}",
        "Implement {code_task} without using any libraries. Use {code_lang}.",
        "Can you review my code and point out problems?\n{code}",
        "Write a script in {code_lang} that {code_task}, and explain how to run it.",
        "How can I make my {tech} app faster? It's slow when many users log in at once.",
        "Write a REST endpoint in {tech} that returns a paginated list of orders.",
        "What does this error mean and how do I fix it? {error}",
        "Implement a function `solve(nums: list[int]) -> int` that returns the length of the longest "
        "increasing subsequence.",
        "I'm new to {code_lang}. Show me how to read a file line by line and count the lines.",
        "I have a bug in my {tech} app: {symptom}. Any idea what causes it?",
        "Why does my {code_lang} program behave like this: {symptom}?",
        "How do I undo the last commit in git but keep my changes?",
        "How do I center a div horizontally and vertically with CSS?",
        "What's the best way to handle errors in async {code_lang} code?",
        "my {code_lang} script is really slow when reading a big file, how can i speed it up",
        "Our {tech} service has a problem: {symptom}. How should I debug this?",
        # interview-style algorithm problems, often with no language named
        "{algo}",
        "{algo} What is the time and space complexity of your solution?",
        "Coding interview question: {algo}",
        "{code_lang} question: {algo}",
        "Please solve this in {code_lang}. {algo}",
        "Can someone help with this problem? {algo} My solution times out.",
    )
    + _t(
        "math",
        0.45,
        "Solve for x: {linear}",
        "Find the roots of {quadratic}.",
        "What is the derivative of {poly}?",
        "Compute the definite integral of {poly} from 0 to {n}.",
        "What is {pct}% of {a}?",
        "{word_problem}",
        "Prove that {hard_math}.",
        "Calculate {a} × {b} + {n} and show your work.",
        "I invest ${a}00 at {pct}% interest compounded annually. How much will I have after {n} years?",
        "A bag has {n} red balls and {a} blue balls. If I draw two without replacement, what is the "
        "probability that both are red?",
        "Simplify (x^2 - 9) / (x - 3) and state where it is undefined.",
        "What is the sum of the first {a} positive integers?",
        "Is {a} a prime number? How can I check quickly?",
        "Find the area of a triangle with sides {n}, {n}, and 5.",
        "Solve the system: 2x + 3y = {a}, x - y = {n}.",
        "Give a rigorous proof that {hard_math}, and explain the key idea.",
        "What is the probability of getting exactly {n} heads in 20 fair coin flips?",
        "Differentiate g(x) = sin(x^2) * e^x.",
        "A circle has a circumference of {a} cm. What is its area?",
        "How many ways can {n} people sit around a round table?",
        "Evaluate the limit of (1 + 1/n)^(2n) as n goes to infinity.",
        "If log base 2 of x equals {n}, what is x?",
    )
    + _t(
        "reasoning",
        0.55,
        "{puzzle}",
        "Here is a logic puzzle. {puzzle}",
        "Think step by step. {puzzle}",
        "Can you solve this riddle? {puzzle}",
        "{puzzle} Explain your reasoning.",
        "I need help with a brain teaser: {puzzle}",
        "Which is heavier, a kilogram of feathers or a kilogram of steel? Explain.",
        "If all bloops are razzies and all razzies are lazzies, are all bloops definitely lazzies?",
        "A man pushes his car to a hotel and tells the owner he is bankrupt. Why?",
        "Schedule meetings for {name}, {name2} and me: {name} is free only before noon, {name2} only on "
        "Tuesdays and Thursdays, and I cannot meet on Thursday. When can the three of us meet?",
    )
    + _t(
        "extraction",
        0.35,
        "Extract all names, dates and places from the following text:\n\n{passage}",
        "List every number mentioned in this text and what it refers to:\n{passage}",
        "{passage}\n\nAccording to the text above, what was decided, and by whom?",
        "Pull out the action items and their owners from these notes:\n{passage}",
        "From the passage below, find the email addresses, phone numbers and prices.\n{passage}",
        "Read this and answer: which people are mentioned and what are their roles?\n\n{passage}",
        "Make a table of the key facts (who, what, when, where) in this text: {passage}",
        "What does the text say about costs? Quote the relevant sentence.\n{passage}",
        "Identify the organisations and products mentioned here: {passage}",
        "Based only on the following paragraph, answer: what happened first?\n{passage}",
        "Get me every date and deadline mentioned in the message below.\n{passage}",
        "{passage}\n\nWho is quoted in this text, and what did they say?",
        "Pull the key figures out of this paragraph into a list: {passage}",
        "Scan this text and tell me which companies are named: {passage}",
        "From this message pull out the {fields}: '{snippet}'",
        "Get the {fields} from this text: {snippet}",
        "Extract the {fields} from:\n{snippet}",
        "Return a JSON object with the {fields} from: '{snippet}'",
        "What {fields} are mentioned here? {snippet}",
        "Find the {fields} in the following and list them:\n{snippet}",
        "grab the {fields} out of this for me: {snippet}",
        "Which people and places appear in this sentence? {sentence}",
        'Here\'s a note: "{snippet}" Can you list the {fields}?',
        "Parse this into fields ({fields}): {snippet}",
    )
    + _t(
        "summarization",
        0.2,
        "Summarize this:\n\n{passage}",
        "TL;DR: {passage}",
        "Give me the key points of the following in three bullets.\n{passage}",
        "{passage}\n\nSummarize the above in one sentence.",
        "Can you sum up this email for me? {passage}",
        "Write an executive summary of this report:\n{passage}",
        "What's the gist of this? {passage}",
        "Condense these notes into a short paragraph: {passage}",
        "Summarize the following for {audience}:\n{passage}",
        "Please shorten this article into a two-sentence summary.\n\n{passage}",
        "I don't have time to read this, what does it say in brief? {passage}",
        "Write a headline and a one-line summary for this story: {passage}",
        "Recap this in a few bullet points for my boss:\n{passage}",
        "{passage}\n\nIn short, what is this about?",
        "Boil this down to its main message: {passage}",
        "Give me a brief overview of the text below.\n\n{passage}",
    )
    + _t(
        "translation",
        0.15,
        "Translate to {lang}: {sentence}",
        "How do you say '{phrase}' in {lang}?",
        "Translate the following into English:\n{foreign}",
        "What does '{foreign}' mean in English?",
        "Please translate this into {lang}, keeping a formal tone: {sentence}",
        "{sentence}\n\nTranslate the above into {lang}.",
        "Can you translate this email into {lang}?\n\n{passage}",
        "English to {lang}: {sentence}",
        "{foreign}\n\nWhat does this say in English?",
        "Translate into English, please: {german}",
        "Übersetze ins Englische: {german}",
        "Traduis en anglais : {foreign}",
        "Traduce al inglés: {foreign}",
        "请翻译成英文：{foreign}",
        "英語に翻訳してください：{foreign}",
        "Переведи на английский: {foreign}",
        "I need this in {lang} for a sign in my shop: '{phrase}'",
        "Give me the {lang} translation of: {sentence}",
        "Render this paragraph in natural {lang}:\n{passage}",
        "What's the {lang} word for '{phrase}'?",
        "Could you put this into {lang} for me? '{sentence}'",
        "Traduza para o inglês: {foreign}",
        "Translate this message from my colleague: {foreign}",
        "How would a native speaker say '{phrase}' in {lang}?",
        "Please provide an accurate {lang} version of this text:\n\n{sentence}",
    )
    + _t(
        "classification",
        0.1,
        "Is this review positive or negative?\n{passage}",
        "Classify the sentiment of this sentence as positive, negative or neutral: {sentence}",
        "Categorize this support message as billing, technical, account or shipping: '{utterance}'",
        "Is the following email spam or not spam?\n\n{passage}",
        "Which category fits this text best: politics, sports, business, technology or science?\n{passage}",
        "What is the intent of this customer message? '{utterance}'",
        "Does this text contain offensive language? Answer yes or no.\n{sentence}",
        "Rate this review from 1 to 5 stars based on its content: {passage}",
        "Is the following statement a fact or an opinion? {sentence}",
        "Which language is this sentence written in? {foreign}",
        "Label each of these messages as urgent or not urgent:\n1. {utterance}\n2. {sentence}",
        "Tag this headline with one topic label: {sentence}",
        "Is this customer happy or unhappy? '{passage}'",
        "Sort these messages into complaint, question or praise:\n- {utterance}\n- {sentence}",
        "Decide whether this headline is clickbait. Answer yes or no: {sentence}",
        "What emotion does this text express (joy, anger, sadness, fear or surprise)? {sentence}",
    )
    + _t(
        "creative_writing",
        0.25,
        "Write a {form} about {topic}.",
        "Write a {tone} {form} for {audience} about {topic}.",
        "Tell me a story about {name} and {topic}.",
        "Compose song lyrics about {topic} with a catchy chorus.",
        "Write a short dialogue between {name} and {name2} about {topic}.",
        "Write the opening paragraph of a mystery novel set in {city}.",
        "Write a funny birthday message for {name}, who loves {topic}.",
        "Write a product description for {product} that makes people want it.",
        "Write a wedding toast for my best friend {name}.",
        "Continue this story: {sentence}",
        "Write a {form} in the style of a 19th-century novelist about {topic}.",
        "Create a short bedtime story for a child who is afraid of the dark.",
        "Can you write me a poem about {topic}? Make it rhyme.",
        "I need a short story (about 300 words) where {name} discovers {topic}.",
        "Write a heartfelt letter from a grandmother to her grandson about {topic}.",
        "Write a scary campfire story involving {topic}.",
        "Write a villanelle about {topic}.",
        "Imagine you are a pirate. Describe your first day at an office job.",
        # essays, letters and reviews; story prompts that carry guiding questions; role-play
        "Write a {prose} about {topic}.",
        "Write a {prose} arguing for or against {topic}. What are the strongest points on each side?",
        "Write a short story about a character who finds something strange related to {topic}. What is it, and "
        "how does it change their life?",
        "Write a {prose} for {audience} about {topic}, in a {tone} voice.",
        "I need to write a {prose} about {topic}. Can you draft it for me? Keep it under 400 words.",
        "Write a review of {product} as if you had used it for a month.",
        "Pretend you are {role}. Tell me about your day.",
        "You are {role}. Stay in character and greet a customer who just walked in.",
        "If you were {role}, how would you spend your last day before retiring? Describe it.",
        "Act as {role} and describe {topic} from your point of view.",
        "Role-play as {person}. What would you say to a student today about {topic}?",
        "As {role}, describe the most exciting moment of your career.",
        "Write a {prose} about {topic}. {guiding}",
        "Write a {form} about {topic}. {guiding}",
        "Pretend you are {role}. {persona} How do you answer someone who doubts you?",
        "Imagine you are {role}. {persona} {guiding}",
        "Write a thank-you note to {name} for helping me with {topic}. Make it sincere but not cheesy.",
    )
    + _t(
        "brainstorming",
        0.15,
        "Give me {n} ideas for {topic}.",
        "Brainstorm names for {product}.",
        "What are some creative ways to promote {product}?",
        "List {n} possible blog post titles about {topic}.",
        "Suggest {n} gift ideas for {audience}.",
        "I need ideas for a team-building activity for {audience}. Any suggestions?",
        "Help me brainstorm features for {product}.",
        "What could I do this weekend in {city}? Give me a few options.",
        "Come up with {n} slogans for {product}.",
        "What are some interview questions I could ask a candidate for a {tech} engineer role?",
        "Give me {n} side-project ideas involving {topic}.",
        "I'm planning a party themed around {topic}. Brainstorm decorations, food and games.",
        "Suggest some angles for a podcast episode about {topic}.",
        "What are some fun things to do with {audience} on a rainy day?",
        "I'm starting a YouTube channel about {topic}. What video ideas could work?",
        "List some ways to reduce costs at {product}.",
        "Help me come up with a name for my {topic} newsletter.",
        "Throw some ideas at me for a science fair project about {topic}.",
    )
    + _t(
        "rewrite",
        0.15,
        "Rewrite this in a {tone} tone:\n{passage}",
        "Fix the grammar and spelling: {bad_sentence}",
        "Make this shorter without losing meaning: {passage}",
        "Paraphrase: {sentence}",
        "Simplify this text for {audience}:\n{passage}",
        "Proofread my email please:\n\n{passage}",
        "Can you make this sound more professional? {sentence}",
        "Turn these bullet points into a paragraph:\n{bullets}",
        "Rewrite the following sentence in the passive voice: {sentence}",
        "Edit this paragraph for clarity and flow:\n{passage}",
        "Reword this so it sounds less aggressive: {sentence}",
        "Correct any mistakes in this text: {bad_sentence}",
        "Rephrase this for a LinkedIn post: {passage}",
        "Can you polish this paragraph? {passage}",
        "Rewrite this so a ten-year-old could understand it: {sentence}",
        "Make this email more concise:\n\n{passage}",
        "Change this text from first person to third person: {sentence}",
        "Improve the wording of this sentence: {bad_sentence}",
    )
    + _t(
        "open_qa",
        0.25,
        "What is {concept}?",
        "Explain {concept} in simple terms.",
        "How does {thing} work?",
        "Who was {person} and why are they famous?",
        "What is the capital of {country}?",
        "What's the difference between {concept} and {concept2}?",
        "Can you tell me about the history of {topic}?",
        "Why do cats purr?",
        "Is it true that we only use 10% of our brains?",
        "What should I know before visiting {country}?",
        "I'm feeling stressed about {topic}. Any advice?",
        "Hi! How are you today?",
        "What are the main causes of {concept}?",
        "When was {thing} invented, and by whom?",
        "Why is the sky blue?",
        "What are the pros and cons of {topic}?",
        "How long should I boil an egg for a soft yolk?",
        "What happened in {year}?",
        "How far is the Moon from the Earth?",
        "What do {audience} usually struggle with when starting out?",
        "Is coffee bad for your health?",
        "What language do they speak in {country}?",
        "Tell me something interesting about {person}.",
        "How do I get rid of fruit flies in my kitchen?",
    )
    + [
        Template("multi00", "rewrite", "Make it shorter.", 0.15, turns=2),
        Template("multi01", "rewrite", "Can you make that sound more {tone}?", 0.15, turns=2),
        Template("multi02", "translation", "Now translate that into {lang}.", 0.15, turns=2),
        Template("multi03", "translation", "And how would you say it in {lang}?", 0.15, turns=2),
        Template("multi04", "code", "Now add error handling and logging to that function.", 0.5, turns=2),
        Template("multi05", "code", "It throws {error} when I run it. Can you fix it?", 0.5, turns=2),
        Template("multi06", "code", "Can you write tests for that code?", 0.45, turns=2),
        Template("multi07", "brainstorming", "Give me {n} more ideas like those.", 0.15, turns=2),
        Template("multi08", "creative_writing", "Write another verse in the same style.", 0.25, turns=2),
        Template("multi09", "creative_writing", "Continue the story, and give it a twist ending.", 0.25, turns=2),
        Template("multi10", "summarization", "Summarize our conversation so far.", 0.2, turns=3),
        Template("multi11", "math", "What if the interest rate were {pct}% instead?", 0.4, turns=2),
        Template("multi12", "math", "Now solve the same equation for {linear}.", 0.4, turns=2),
        Template("multi13", "open_qa", "Why is that?", 0.25, turns=2),
        Template("multi14", "open_qa", "Can you explain that in more detail?", 0.25, turns=2),
        Template("multi15", "extraction", "From the text I pasted, list just the dates and amounts.", 0.3, turns=2),
        Template(
            "multi16", "classification", "And what about this one: '{sentence}'? Positive or negative?", 0.1, turns=2
        ),
        Template("multi17", "reasoning", "Are you sure? Check your reasoning again step by step.", 0.55, turns=2),
        Template("multi18", "translation", "Can you also give me the {lang} version?", 0.15, turns=2),
        Template("multi19", "translation", "Translate your last answer into {lang}, please.", 0.15, turns=2),
        Template("multi20", "rewrite", "Rewrite that paragraph so it flows better.", 0.15, turns=2),
        Template("multi21", "rewrite", "Too long. Cut it in half.", 0.15, turns=2),
        Template("multi22", "creative_writing", "Now write a poem based on that story.", 0.25, turns=2),
        Template("multi23", "creative_writing", "Write the next chapter.", 0.25, turns=2),
        Template("multi24", "brainstorming", "Those are good. Can you suggest a few more options?", 0.15, turns=2),
        Template("multi25", "code", "Now rewrite it in {code_lang}.", 0.45, turns=2),
        Template("multi26", "code", "How would I make that function async?", 0.5, turns=2),
        Template("multi27", "summarization", "Give me a one-paragraph summary of everything above.", 0.2, turns=2),
        Template("multi28", "open_qa", "Interesting! What about {country}?", 0.25, turns=2),
        Template("multi29", "math", "And what would the answer be if x were {n}?", 0.4, turns=2),
    ]
    + [
        Template(
            "json00",
            "extraction",
            "Extract the person's name, job title, email and phone from this text and return JSON:\n{passage}",
            0.35,
            json_output=True,
            system="Respond only with valid JSON.",
        ),
        Template(
            "json01",
            "classification",
            'Return a JSON object {{"sentiment": ..., "confidence": ...}} for this review: {passage}',
            0.1,
            json_output=True,
        ),
        Template(
            "json02",
            "brainstorming",
            "Give me {n} startup ideas about {topic} as a JSON array of objects with name and pitch.",
            0.15,
            json_output=True,
        ),
        Template(
            "json03",
            "summarization",
            "Summarize the following into JSON with keys title, summary and tags:\n{passage}",
            0.2,
            json_output=True,
            system="You output JSON only, never prose.",
        ),
        Template(
            "json04",
            "translation",
            'Translate into {lang} and answer as {{"translation": "..."}}: {sentence}',
            0.15,
            json_output=True,
        ),
        Template(
            "json05",
            "extraction",
            "Parse every event in these notes into a list of {{date, title, people}} records:\n{passage}",
            0.35,
            json_output=True,
            system="You are a data extraction API. Output JSON.",
        ),
        Template(
            "json06",
            "classification",
            "Classify this ticket into one of [billing, technical, account]. Output JSON with a 'label' "
            "field: '{utterance}'",
            0.1,
            json_output=True,
        ),
        Template(
            "json07",
            "code",
            "Write a JSON schema that validates a {product} order with items, quantities and prices.",
            0.45,
            json_output=True,
        ),
    ]
    + [
        Template("tools00", "open_qa", "What's the weather going to be like in {city} tomorrow?", 0.2, has_tools=True),
        Template("tools01", "open_qa", "Find me flights from {city} to {city2} next Friday.", 0.25, has_tools=True),
        Template("tools02", "open_qa", "What's the latest news about {topic}?", 0.25, has_tools=True),
        Template("tools03", "math", "Use the calculator: what is {a} * {b} / {n}?", 0.15, has_tools=True),
        Template("tools04", "code", "Run this code and tell me what it prints:\n{code}", 0.4, has_tools=True),
    ]
)
