"""English requests in a real-user voice: the way people actually type to chat assistants.

Conversational, sometimes sloppy (typos, lowercase, no punctuation), sometimes one line and sometimes a few
sentences of personal context before the ask, plus follow-up turns that refer to an earlier answer. This is a
counterweight to the project's formal, template-like English requests.
"""

from __future__ import annotations

from triage.train.i18n.base import Lang

_POOLS: dict[str, tuple[str, ...]] = {
    "topic": (
        "remote work",
        "healthy eating",
        "climate change",
        "social media",
        "moving to a new city",
        "saving money",
        "learning to code",
        "mental health",
        "public transport",
        "friendship",
        "getting older",
        "video games",
        "online dating",
        "working night shifts",
    ),
    "name": (
        "Emma",
        "Liam",
        "Olivia",
        "Noah",
        "Sarah",
        "Jake",
        "Priya",
        "Carlos",
        "Mei",
        "Tom",
        "Jessica",
        "Ahmed",
        "Hannah",
        "Daniel",
        "Zoe",
        "Marcus",
    ),
    "city": (
        "London",
        "New York",
        "Chicago",
        "Toronto",
        "Sydney",
        "Manchester",
        "Austin",
        "Dublin",
        "Seattle",
        "Melbourne",
        "Boston",
        "Vancouver",
        "Edinburgh",
        "Denver",
    ),
    "thing": (
        "a coffee machine",
        "my bicycle",
        "an old smartphone",
        "a cast iron skillet",
        "a standing desk",
        "a pair of noise-cancelling headphones",
        "a robot vacuum",
        "a mechanical keyboard",
        "an air fryer",
        "a houseplant",
        "an electric toothbrush",
        "a vintage film camera",
        "a smartwatch",
        "a pair of running shoes",
    ),
    "audience": (
        "my grandmother",
        "a five-year-old",
        "new employees",
        "my boss",
        "a group of high school students",
        "my non-technical coworkers",
        "my dad who hates technology",
        "a complete beginner",
        "my 10 year old",
        "people who speak English as a second language",
        "our customers",
        "a room full of engineers",
    ),
    "tone": (
        "more formal",
        "friendlier",
        "more persuasive",
        "more casual",
        "less robotic",
        "more professional",
        "warmer",
        "more confident",
        "less aggressive",
        "funnier",
        "more polite",
        "less formal",
        "more enthusiastic",
        "more neutral",
    ),
    "form": (
        "a poem",
        "a short story",
        "a song",
        "a limerick",
        "a haiku",
        "a rap",
        "a sonnet",
        "a bedtime story",
        "a short play",
        "a funny poem",
        "a diary entry",
        "a fable",
        "a ballad",
        "a joke",
    ),
    "concept": (
        "inflation",
        "photosynthesis",
        "black holes",
        "the stock market",
        "blockchain",
        "the greenhouse effect",
        "quantum entanglement",
        "the immune system",
        "supply and demand",
        "machine learning",
        "the electoral college",
        "evolution",
        "plate tectonics",
        "the placebo effect",
        "cognitive dissonance",
        "the water cycle",
    ),
    "code_task": (
        "reverses a string",
        "reads a CSV file and sums a column",
        "removes duplicates from a list",
        "downloads a web page and counts the links on it",
        "renames all the files in a folder by their creation date",
        "sends me an email when a website goes down",
        "parses a JSON file and prints all the keys",
        "converts a date string like 2024-03-01 to a unix timestamp",
        "finds the most common word in a text file",
        "merges two sorted lists",
        "checks if a password has at least 8 characters and one number",
        "resizes all the images in a folder",
        "backs up a folder to a zip file",
        "splits a big log file into smaller ones",
    ),
    "passage": (
        "The city council voted 7-2 on Tuesday to approve a new network of protected bike lanes downtown. "
        "The project will cost about $4.2 million and construction is expected to start in March. "
        "Council member Rachel Ortiz said the lanes would make cycling safer for the roughly 12,000 people "
        "who commute by bike. Some business owners on Main Street oppose the plan because it removes around "
        "150 parking spaces.",
        "Hi Sam, just a heads up that your rent will go up from $1,450 to $1,520 starting June 1st. This is "
        "because of the increase in property taxes and building insurance this year. If you'd like to sign a "
        "new 12-month lease, please let me know by May 15 and I'll keep the rent at $1,495 instead. Feel free "
        "to call me at 555-0142 if you have any questions. Thanks, Linda (building manager)",
        "Meeting notes - marketing sync, Oct 3. Attendees: Priya, Tom, Jessica, Ahmed. The spring campaign "
        "launch is moved from Feb 10 to Feb 24 because the video isn't ready yet. Tom will finalize the budget "
        "(currently $18k) by Friday. Jessica is reaching out to two influencers and will report back next "
        "week. Ahmed said the landing page is too slow on mobile, and Priya will follow up with the dev team.",
        "I bought these headphones three months ago for $129 and honestly I'm mixed on them. The noise "
        "cancelling is great on the train and the battery easily lasts a full week of commuting. But the ear "
        "cushions started peeling after about six weeks, and the app disconnects constantly on my Android "
        "phone. Customer support replied within a day but just told me to reinstall the app. Good sound for "
        "the price, but I wouldn't buy them again.",
        "In the third quarter, revenue grew 8% year over year to $52.3 million, driven mainly by strong sales "
        "in Europe. Operating costs rose 11%, largely because of new hires in engineering and customer "
        "support. The company now has 640 employees across four offices. Management expects growth to slow "
        "slightly in Q4 due to weaker demand in North America, and has paused plans to open an office in "
        "Singapore.",
        "Hey everyone, hoping someone here can help. My laptop (Dell XPS 15, about 2 years old) started "
        "shutting down randomly last week, usually when I have Chrome and Zoom open at the same time. The "
        "fans get really loud right before it happens. I already updated the BIOS and ran the Dell "
        "diagnostics, which said everything was fine. Could this be overheating, or is my battery dying? The "
        "warranty ran out in January so I'd rather fix it myself if I can.",
        "Thank you for your booking! Your reservation number is HTL-48213. You're staying at the Harbor View "
        "Hotel in Sydney from 14 to 18 August (4 nights) in a Deluxe Double Room. The total price is AUD "
        "1,136, including breakfast and taxes. Free cancellation is available until 11 August at 6 pm local "
        "time. Check-in starts at 3 pm and check-out is at 11 am.",
        "We went to Luigi's for my dad's 60th birthday last Saturday, a group of nine people. The pasta was "
        "honestly the best I've had outside Italy, especially the truffle ravioli. Service was slow though, "
        "and we waited almost 40 minutes for our mains even though the place was half empty. The waiter did "
        "bring a free tiramisu with a candle for my dad, which was a really nice touch. Around $70 per person "
        "with wine.",
        "Tech company Brightline announced on Monday that it will lay off about 300 employees, roughly 15% of "
        "its workforce. CEO Mark Jensen said in a memo that the company had 'grown too fast' during the "
        "pandemic and needs to focus on its core products. Affected staff will get 12 weeks of severance pay "
        "and health coverage through the end of the year. The company's shares rose 4% after the news.",
        "Dear parents, our Year 5 class will be visiting the Natural History Museum on Thursday, 9 May. The "
        "bus leaves school at 8:45 am and we will be back by 3:30 pm. Please send your child with a packed "
        "lunch, a water bottle and a raincoat. The trip costs £12, which can be paid through the school app "
        "by Monday, 6 May. If you can volunteer as a chaperone, please reply to this email. Best wishes, "
        "Ms. Carter",
        "Researchers at the University of Edinburgh found that people who walk at least 8,000 steps a day "
        "have a 30% lower risk of heart disease than those who walk fewer than 4,000. The study followed "
        "78,000 adults for seven years. Lead author Dr. Fiona Grant said the benefit showed up even when "
        "people only hit the target two or three days a week. The team now plans to look at whether walking "
        "speed matters as much as the number of steps.",
        "so I've been using this budgeting app for about 4 months now and wanted to share. it costs $6 a "
        "month, which felt like a lot at first, but it helped me find $200 a month in subscriptions I forgot "
        "about. syncing with my bank (Chase) breaks maybe once a week and I have to log in again. the "
        "reports are really nice though and my partner and I finally stopped arguing about money lol.",
    ),
    "sentence": (
        "I'll be a few minutes late to the meeting because my train is delayed.",
        "Could you tell me where the nearest pharmacy is?",
        "We decided to postpone the launch until next month.",
        "My sister has been learning to play the violin since she was six.",
        "The report was written by the marketing team last week.",
        "Thanks so much for your help, I really appreciate it.",
        "Honestly, I think the new policy is a terrible idea.",
        "It rained all weekend, so we stayed in and watched movies.",
        "Please make sure all the lights are turned off before you leave.",
        "The package was delivered to the wrong address.",
        "I've never been good at remembering people's names.",
        "Our flight leaves at 6 am, so we need to be at the airport by 4.",
        "Water boils at 100 degrees Celsius at sea level.",
        "If you need anything else, just let me know.",
    ),
    "bad_sentence": (
        "me and him goes to the store yesterday and buyed some bread",
        "Their going to there house after the party, its not far.",
        "I has been working here since three years.",
        "She don't like when people is late to meetings.",
        "could you please sent me the documents untill friday",
        "Between you and I, the project is definately behind schedule.",
        "I am agree with you about this decision.",
        "We was very exciting for the trip but it rain all the time.",
        "Your welcome to join us, we are meeting at the resturant at 7.",
        "He explained me the problem but I didnt understood it.",
        "The informations you gave me was very usefull.",
        "Less people came to the event then we expected.",
        "I look forward to hear from you soon.",
        "Everyone have their own opinion about this, isnt it?",
    ),
    "lang_name": (
        "Spanish",
        "French",
        "German",
        "Japanese",
        "Italian",
        "Portuguese",
        "Korean",
        "Mandarin Chinese",
        "Arabic",
        "Russian",
        "Hindi",
        "Dutch",
        "Turkish",
        "Polish",
        "Swedish",
        "Vietnamese",
    ),
    "item": (
        "Battery died after two days. Returned it. Never again.",
        "omg this place has the best tacos in town, we'll def be back!!",
        "URGENT: Your account has been suspended, click here to verify your details",
        "Stocks tumble as central bank signals more rate hikes",
        "hi, I was charged twice for my subscription this month, can someone look into it?",
        "The app keeps crashing whenever I try to upload a photo",
        "Re: Q3 budget review moved to Thursday",
        "Congratulations! You've won a $500 gift card. Claim now!!!",
        "Local team wins championship after 40-year drought",
        "it's fine i guess. does what it says, nothing special",
        "Great, another Monday. Just what I needed.",
        "Can you add a dark mode? My eyes would thank you",
        "Scientists discover new species of frog in the Andes",
        "Lunch on Friday? My treat :)",
        "the hotel was clean but the staff were rude and breakfast was cold",
        "You won't BELIEVE what this celebrity did at the airport",
        "I can't log in, the password reset email never arrives",
    ),
    # Extra pools: well-known books and films (summaries, recommendations).
    "book": (
        "Harry Potter and the Deathly Hallows",
        "Fooled by Randomness",
        "1984",
        "To Kill a Mockingbird",
        "The Great Gatsby",
        "Sapiens",
        "Atomic Habits",
        "Pride and Prejudice",
        "The Lord of the Rings",
        "Crime and Punishment",
        "The Alchemist",
        "Thinking, Fast and Slow",
        "Dune",
        "The Hunger Games",
    ),
    "movie": (
        "Inception",
        "The Godfather",
        "Interstellar",
        "Parasite",
        "The Matrix",
        "Spirited Away",
        "Pulp Fiction",
        "Titanic",
        "The Shawshank Redemption",
        "Everything Everywhere All at Once",
        "Back to the Future",
        "Oppenheimer",
    ),
}

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "code": (
        "write me script that saves a dictionary in json format in a file in python",
        "{code}\n\nwhy does this throw an error",
        "can you write a {code_lang} function that {code_task}?",
        "explain the difference between git switch and git checkout",
        "what are the top libraries for data visualization in {code_lang}?",
        "fix this pls\n{code}",
        "can you rewrite that in rust?",
        "I'm a junior dev and my team lead asked me to write something that {code_task}. I've been trying for "
        "like two hours and I keep getting stuck. Can you show me how you'd do it in {code_lang} and explain "
        "each part? I want to actually understand it, not just copy it.",
        "regex for matching email addresses",
        "how do I undo my last commit but keep the changes",
        "what does this code do?\n\n{code}",
        "sql query to get the top 5 customers by total order amount from an orders table",
        "Is there a way to make this faster? It works but it's really slow on big inputs.\n\n{code}",
        "bash one liner to find all files bigger than 100mb in a folder",
        "how do i center a div",
        "Write unit tests for this function:\n{code}",
        "whats the difference between let, const and var in javascript",
        "I'm building a small Flask app for my mom's bakery so she can take orders online. Everything works "
        "locally but when I deploy it to the server I get a 502 bad gateway. I'm using gunicorn and nginx. "
        "Where should I even start looking?",
        "can you review my code and tell me what I could do better?\n{code}",
        "convert this to {code_lang}\n{code}",
        "How do I read environment variables in {code_lang}?",
        "docker container exits immediately after starting, what am i doing wrong",
        "make a python script that {code_task}, it should take the input from the command line",
        "ok now add error handling to it",
        "what's a good way to structure a REST API for a todo app? like which endpoints should I have",
        "getting 'TypeError: cannot read properties of undefined' in my react app when the page loads, the "
        "data comes from a fetch call. how do i fix it",
        "Can you explain what a closure is in {code_lang} with an example?",
        "this compiles but gives the wrong output, what did i mess up\n{code}",
        "I need a {code_lang} snippet that {code_task}",
        "is it better to use async or threads for a web scraper in python",
        "how to install pytorch with cuda on windows",
        "give me a cron expression that runs every weekday at 7:30am",
    ),
    "math": (
        "what's {pct}% of {a}",
        "solve {linear}",
        "can you help me solve {quadratic}? show the steps please",
        "find the derivative of {poly}",
        "is variance the same as sum of squares error?",
        "can we find a formula to generate all prime numbers?",
        "how many days until christmas",
        "I bought a jacket for ${a} and it's {pct}% off, how much do I actually pay?",
        "If I save {a} dollars a month, how many months until I have {b}00 dollars?",
        "my kid has this homework problem and honestly I forgot how to do it: a train leaves at 3pm going "
        "{a} km/h and another one leaves an hour later at {b} km/h on the same track. When does the second "
        "one catch up, if ever? Can you explain it in a way I can explain to a 12 year old?",
        "what is {a} times {b}",
        "{a} + {b} * {n} = ?",
        "prove that the square root of 2 is irrational",
        "integrate {poly} from 0 to {n}",
        "whats the probability of rolling two sixes in a row with a fair die",
        "explain standard deviation with an example, I have my stats exam tomorrow and I just don't get it",
        "x^2 + {n}x = 0 how do i solve this",
        "If a pizza is cut into {n} slices and I eat 3, what fraction is left?",
        "how do I calculate compound interest? say I put {a} in at {pct}% a year for {n} years",
        "I'm trying to sort out my budget. I make 3,800 a month after taxes and my rent is 1,450. If I want "
        "to save {pct}% of what's left after rent, how much is that per month? And per year?",
        "what is the lcm of {a} and {b}",
        "convert {a} fahrenheit to celsius",
        "how many ways can {n} people sit around a round table",
        "area of a circle with radius {n} cm?",
        "is 0.999 repeating actually equal to 1? how",
        "Show that the sum of the first n odd numbers is n^2.",
        "find the roots: {quadratic}",
        "what is the expected value of a lottery ticket that costs 2 dollars with a 1 in a million chance of "
        "winning 500000",
        "{linear}\nsolve for x",
        "if the price went from {a} to {b}, what's the percent change?",
        "multiply the matrices [[1,2],[3,4]] and [[5,6],[7,8]]",
        "now do the same for {linear}",
        "my teacher says the answer is {a} but i keep getting something else. {b} divided by {n}, rounded "
        "to two decimals?",
    ),
    "reasoning": (
        "Bob has two sons, John and Jay. Jay has one brother and father. The father has two sons. Jay's "
        "brother has a brother and a father. Who is Jay's brother?",
        "Mike's mother had four kids. Three of them are Luis, Drake and Matilda. What is the name of the fourth kid?",
        "Using critical thinking, how would you approach this: a local restaurant is losing customers and "
        "the owner doesn't know why.",
        "if all bloops are razzies and all razzies are lazzies, are all bloops definitely lazzies?",
        "what weighs more, a kilo of feathers or a kilo of steel",
        "{name} is older than Sam, Sam is older than Priya, and Priya is older than Leo. who is the second youngest",
        "riddle: what has keys but can't open locks",
        "There are three boxes, one labeled apples, one oranges and one mixed. All the labels are wrong. You "
        "can take one fruit from one box without looking. How do you relabel them correctly?",
        "a man looks at a photo and says 'brothers and sisters i have none, but that man's father is my "
        "father's son'. who is in the photo",
        "If it takes 5 machines 5 minutes to make 5 widgets, how long would it take 100 machines to make 100 widgets?",
        "is this argument valid? 'Every time I wash my car it rains. I washed my car today, so it will rain.'",
        "My coworker says that since crime went up the same year the new mayor was elected, the mayor caused "
        "it. What's wrong with that reasoning?",
        "A farmer needs to cross a river with a wolf, a goat and a cabbage. the boat only fits him and one "
        "other thing. how does he do it without anything getting eaten",
        "You have two ropes that each take exactly an hour to burn, but they burn unevenly. How do you "
        "measure 45 minutes?",
        "which one doesn't belong: apple, banana, carrot, grape",
        "Sally has 3 brothers. Each of her brothers has 2 sisters. How many sisters does Sally have?",
        "Think this through step by step: our online store's sales dropped 30% last month but website "
        "traffic stayed the same. What could explain it, and how would you narrow down which explanation is "
        "true?",
        "Five runners in a race. A finished before B but after C. D finished before E but after B. who came last",
        "if yesterday was the day after monday, what day is tomorrow",
        "A bat and a ball cost $1.10 in total. The bat costs $1 more than the ball. How much does the ball "
        "cost? pls don't just give me the intuitive answer",
        "I heard this one at a party and it's driving me nuts. A man pushes his car to a hotel and tells the "
        "owner he's bankrupt. Why?",
        "Three friends, {name}, Ana and Tom, each have a different pet: a cat, a dog or a fish. {name} is "
        "allergic to fur. Tom doesn't own the cat. Who has which pet?",
        "is it logically possible for someone to be their own grandfather",
        "Knights always tell the truth and knaves always lie. A says 'we are both knaves'. What are A and B?",
        "what comes next: 2, 6, 12, 20, 30, ?",
        "my friend said 'if you don't support this policy then you must hate poor people'. what fallacy is "
        "that and why is it flawed",
        "A doctor and a boy are fishing. The boy is the doctor's son but the doctor isn't the boy's father. "
        "how is that possible",
        "There's a lightbulb in a room upstairs and three switches downstairs. You can only go upstairs "
        "once. How do you work out which switch controls the bulb?",
        "Our team of {n} people keeps missing sprint deadlines even though everyone says their tasks are "
        "'almost done'. I don't want generic productivity tips. Can you reason through what's most likely "
        "going on, what evidence would confirm or rule out each cause, and in what order I should check "
        "them?",
    ),
    "extraction": (
        "{passage}\n\nwho is mentioned in this?",
        "From the text below, pull out all the dates and what happens on each.\n\n{passage}",
        "{passage}\n\nwhat's the deadline here",
        "based only on this, what am I being asked to do?\n\n{passage}",
        "Can you list every number mentioned in this paragraph and what it refers to?\n{passage}",
        "here's the notes from today, I missed it. who is responsible for what?\n\n{passage}",
        "{passage}\n\nAccording to the text, why did this happen? Answer using only what's written there.",
        "extract names, places and organizations as json\n\n{passage}",
        "I got this and English isn't my first language, so I want to make sure I understand it. What "
        "exactly are the dates and amounts mentioned, and is there anything I need to do by a certain "
        "time?\n\n{passage}",
        "{passage}\n\nwhat city or place is this about",
        "Pull the key facts out of this into a table with two columns, fact and value:\n{passage}",
        "does this text say anything about prices or costs? if yes quote it\n\n{passage}",
        "{passage}\nQ: who wrote this and who is it addressed to?",
        "find all the action items in this\n{passage}",
        "Read this and list what the writer liked and what they didn't like. Just list them, don't add your "
        "own opinion.\n\n{passage}",
        "{passage}\n\ngive me just the contact details from that, nothing else",
        "what percentages are mentioned in the text below?\n{passage}",
        "{passage}\n\nlist the people and their roles",
        "Using only the information in this paragraph, answer: when did it happen and where?\n\n{passage}",
        "my boss forwarded me this and asked me to get the important details into our tracker. can you grab "
        "the who, what, when and where for me?\n\n{passage}",
        "{passage}\n\nIs there a time mentioned? what is it",
        "Here's a text:\n{passage}\nWhat does it say about money?",
        "which products or brands are named in this\n{passage}",
        "{passage}\n\nbased on this, how many people are involved?",
        "quote the sentence from this that mentions a date\n\n{passage}",
        "{passage}\n\nwhat are the next steps according to this?",
        "Extract the key entities (people, companies, dates, amounts) from this:\n{passage}",
        "I need to fill in a form with the details from this confirmation. What's the reservation number, "
        "the dates and the total?\n\n{passage}",
        "{passage}\n\ndoes it say how long? just the answer from the text pls",
    ),
    "summarization": (
        "summarise the book {book} in two paragraphs",
        "give me a brief summary of {book}",
        "can you sum up this article\n\n{passage}",
        "{passage}\n\ntl;dr?",
        "Summarize this in one sentence:\n{passage}",
        "I have a meeting in 10 minutes and didn't read this, give me the gist\n\n{passage}",
        "what's the plot of {movie} in a few lines? no spoilers for the ending pls",
        "{passage}\n\nsummarize in 3 bullet points",
        "too long didn't read:\n{passage}",
        "can you give me a short summary of what happened in World War 1? I have a history quiz and I just "
        "need the big picture",
        "Summarize the main ideas of {book} for someone who doesn't have time to read it.",
        "boil this down for me\n{passage}",
        "I'm writing a newsletter for my team and I need to include a short recap of this. Could you "
        "summarize it in 2-3 sentences in plain language? Most of them won't read more than that.\n\n"
        "{passage}",
        "{passage}\n\nWhat's this saying, in a nutshell?",
        "summary of {movie}",
        "recap season 1 of breaking bad for me, i'm about to start season 2 and forgot everything",
        "Condense this into a tweet-length summary:\n{passage}",
        "give me the short version\n\n{passage}",
        "summarize {concept} in one paragraph",
        "my professor assigned {book} and the exam is friday. I've read maybe half of it. Can you summarize "
        "the whole thing, roughly part by part, so I know what happens?",
        "{passage}\n\nsum this up for {audience}",
        "write a quick summary of this for my manager\n\n{passage}",
        "what are the main takeaways from this\n{passage}",
        "Give me a one-paragraph synopsis of {movie}.",
        "key points only:\n\n{passage}",
        "Summarize {book} in 5 bullet points",
        "{passage}\n\nCould you summarize the above in under 50 words?",
        "explain what happens in {book} in like 5 sentences",
    ),
    "translation": (
        "translate this to {lang_name}: {en_sentence}",
        "how do you say love, care and empathy in Japanese?",
        "what are some words for love in Tolkien's Quenya?",
        'what does "{foreign}" mean?',
        "{foreign}\n\ntranslate pls",
        "what about in french?",
        "can you translate '{sentence}' into {lang_name}",
        'How would I say "{sentence}" in {lang_name}? I want it to sound natural, not like google translate.',
        "my girlfriend's parents only speak {lang_name} and I'm meeting them for the first time next week. "
        "I want to say something nice at dinner like 'thank you for having me, the food is delicious'. Can "
        "you translate that and maybe tell me how to pronounce it?",
        "{foreign} -> english",
        "how do you say {thing} in {lang_name}",
        "translate into english:\n{foreign}",
        "Can you translate this email into {lang_name} for me? Keep it polite.\n\n{passage}",
        "Translate to Japanese and add the romaji: {en_sentence}",
        "how do i say 'where is the bathroom' in {lang_name}",
        "Translate the following to English: {foreign}",
        "saw this on a sign while on holiday, what does it say? {foreign}",
        "what's the meaning of 'carpe diem', like literally",
        "{en_sentence}\n\nin {lang_name} please",
        "say this in {lang_name} but casual, like texting a friend: {sentence}",
        "what does arigatou gozaimasu mean",
        "how do you say 'I miss you' in {lang_name}? and is it different when you say it to family vs a partner?",
        "Translate: {foreign}",
        "can you put this into {lang_name} for me\n{passage}",
        "what's schadenfreude in english, is there a direct translation",
        "My grandma left me some old letters and there's one line I can't read: {foreign} - what does it say?",
        "and in {lang_name}?",
        "how to say good morning in {lang_name}",
        "I'm texting with a guy from a language exchange app and he sent me this: {foreign}. what does it "
        "mean and how do I reply 'that sounds great, see you saturday' in his language?",
    ),
    "classification": (
        "is this positive or negative: {item}",
        "{item}\n\nsentiment?",
        "classify this as spam or not spam: {item}",
        "what category does this fall into: tech, sports, politics, business or entertainment?\n{item}",
        "is this email urgent?\n\n{passage}",
        "which genre is this movie: a retired hitman comes back for revenge after gangsters kill his dog",
        "Label each of these as positive, negative or neutral:\n1. {item}\n2. the delivery was on time i "
        "guess\n3. worst purchase of my life",
        "I run support for a small SaaS and we get like 200 tickets a day. I want to sort them into billing, "
        "bug, feature request, or account access. Which one is this?\n\n{item}",
        "what's the tone of this message? angry, neutral, friendly?\n{passage}",
        "{item}\nis this a complaint or a compliment",
        "rate the sentiment of this from 1 to 5\n{item}",
        "would you say this is sarcastic? {item}",
        "Is the following text formal or informal?\n\n{passage}",
        "tag this with a topic: {item}",
        "{passage}\n\nWhat type of text is this? news article, email, review, or something else?",
        "Is this headline clickbait or legit? {item}",
        "sort these into fruits and vegetables: tomato, carrot, apple, cucumber, banana, potato",
        "hey quick one, is this message toxic or fine to leave up on our forum? {item}",
        "Classify the intent of this customer message (refund, question, complaint, praise, other):\n{item}",
        "is this a phishing attempt? {item}",
        "which of these are animals and which are plants: oak, salmon, fern, eagle, moss, frog",
        "{item}\n\nhappy, sad, angry or neutral?",
        "Which department should this go to, sales, support or billing?\n{item}",
        "i need to label a dataset for a school project, can you tell me if this one is positive, negative "
        "or mixed and why: {item}",
        "what language is this? {foreign}",
        "Is this sentence in the passive or active voice? {sentence}",
        "categorize: {item}",
        "Would you file this under work or personal?\n\n{passage}",
        "is this a fact or an opinion: {sentence}",
        "{item}\n\nis this a question, a request or just a statement?",
    ),
    "creative_writing": (
        "write me {form} about {topic}",
        "write a short essay on {topic}",
        "can you write a poem for my wife's 40th birthday? she loves gardening and bad puns",
        "tell me a joke about programmers",
        "Write a story about a dragon who is afraid of fire, for {audience}.",
        "write a rap about {concept}",
        "make an argument for a four day work week",
        "write a prayer for my dog who is sick",
        "an ode to {thing}",
        "Write a product description for {thing}. It's for our Etsy shop, make it sound cozy but not cheesy.",
        "I'm giving the best man speech at my brother's wedding in two weeks. He's marrying {name}, they met "
        "at a climbing gym in {city}, and he once got stuck on a beginner wall for 20 minutes. I want it "
        "funny but also sweet at the end, around 3 minutes long. Can you write a draft?",
        "slogan for a coffee shop that's also a bookstore",
        "write a dialogue between a cat and a vacuum cleaner",
        "lets roleplay. you're a grumpy medieval innkeeper and i'm a traveler who just walked in. stay in character",
        "Write a cover letter for a barista job. I have 2 years of experience and I'm really good with people.",
        "write a limerick about {name} from {city}",
        "Could you write a song about moving away from home? kind of sad but hopeful, like folk music",
        "a haiku about {topic} please",
        "write a persuasive essay on why everyone should care about {topic}",
        "Write a horror story in exactly 2 sentences.",
        "can u write a bedtime story for my 4 year old, she likes unicorns and trucks",
        "Write the opening paragraph of a sci-fi novel set in {city} in the year 2300.",
        "write a funny instagram caption for a picture of my dog wearing sunglasses",
        "compose a letter to my future self 10 years from now",
        "I'm a teacher and I want to open the school year with something fun. Can you write a short poem "
        "welcoming my 3rd graders back, mentioning things like new pencils, friends and recess? Nothing too "
        "long, they have short attention spans lol",
        "write an email to my landlord complaining about the broken heater, firm but polite",
        "give me {form} about {thing}",
        "now write another one but darker",
        "Write a monologue from the point of view of the last tree on Earth.",
        "marketing copy for the landing page of an app that reminds people to drink water",
        "write a short story where the twist is that the narrator is a ghost, about 500 words",
    ),
    "brainstorming": (
        "what is the best approach for learning a language with an hour a day?",
        "which beginner friendly hobby could I start?",
        "I have a project due in 2 weeks and I'm behind, what should I do?",
        "give me some tips to improve my english",
        "what can I do to keep a habit?",
        "ideas for a 30th birthday party on a budget",
        "I need a name for my podcast about {topic}, any ideas?",
        "what should I cook tonight, I have eggs, rice, spinach and some leftover chicken",
        "gift ideas for {audience}",
        "I just moved to {city} and don't know anyone. I work from home so I don't meet people at work "
        "either. How can I make friends here?",
        "things to do in {city} for a weekend",
        "how can I be more productive working from home",
        "suggest some books similar to {book}",
        "My 14 year old son spends like 8 hours a day on his phone and every time I bring it up we end up "
        "fighting. I don't want to just take it away. What are some approaches I could try?",
        "creative ways to reuse {thing}",
        "Can you help me plan a 5-day trip to Japan? I like food and nature, not big on museums",
        "give me 10 blog post ideas about {topic}",
        "how do i stop procrastinating",
        "what are some good date ideas that aren't dinner and a movie",
        "brainstorm features for a habit tracking app",
        "I'm a nurse thinking about switching careers into tech, I'm 34. what paths would make sense and how "
        "should I start?",
        "tips for a first job interview?",
        "what should I name my cat? she's grey and very dramatic",
        "how can our team of {n} people run better meetings? they always go way over time",
        "recommend some podcasts about history",
        "team building activities that aren't cringe",
        "whats a good workout routine for a total beginner with no equipment",
        "I want to start a side business with less than 500 dollars. what could I do?",
        "any ideas for a science fair project for 7th grade",
        "how should I prepare for a presentation on {topic} next week? I get really nervous",
        "more ideas pls, those were too generic",
        "what's a good way to get {audience} interested in {topic}?",
    ),
    "rewrite": (
        "can you simplify that? like make it less wordy?",
        "make it a little less lighthearted",
        "now make it shorter",
        "fix the grammar: {bad_sentence}",
        "{bad_sentence}\n\ncorrect this pls",
        "paraphrase this: {sentence}",
        "Rewrite this in old English style: {sentence}",
        "make this into a bulleted list\n\n{passage}",
        "modify the poem so it sounds like a child wrote it",
        "can you make this sound {tone}?\n\n{passage}",
        "proofread this before I send it to my boss\n\n{passage}",
        "rewrite this so {audience} could understand it:\n{passage}",
        "I'm not a native English speaker and I'm applying for a job. Could you check this sentence and make "
        "it sound more natural and professional? '{bad_sentence}'",
        "reword: {sentence}",
        "shorten this to under 50 words\n{passage}",
        "{passage}\n\nrewrite this in a {tone} tone",
        "turn this into a tweet\n{passage}",
        "rewrite that but in the style of shakespeare",
        "Can you correct my spelling? {bad_sentence}",
        "Here's a paragraph from my report, it feels clunky. can you polish it without changing the meaning "
        "too much?\n\n{passage}",
        "make this sentence less passive: {sentence}",
        "say this differently, i've used the same phrase like 5 times already: {sentence}",
        "rewrite the paragraph above in simpler words",
        "{sentence}\nmake this sound {tone}",
        "could you rephrase this so it's not so blunt? {sentence}",
        "My manager said my emails sound rude even though I don't mean them that way. Here's one I was about "
        "to send. Can you rewrite it so it's polite but still clear that I need this done by Friday?\n\n"
        "{passage}",
        "is this correct english? if not fix it: {bad_sentence}",
        "write this again but for {audience}",
        "convert this to passive voice\n{sentence}",
        "add some emojis to this and make it more fun\n{passage}",
        "make it {tone}",
    ),
    "open_qa": (
        "is Into the Breach a game with perfect information?",
        "how would the future of AI in 10 years look?",
        "tell me about neural networks",
        "explain {concept} to {audience}",
        "why is the sky blue",
        "what's the difference between a virus and bacteria",
        "ELI5 {concept}",
        "who was the first emperor of rome",
        "pros and cons of electric cars vs hybrids",
        "is it bad to drink coffee on an empty stomach",
        "what do you think about {topic}? honest opinion",
        "I've been reading a lot about intermittent fasting and some people swear by it while others say "
        "it's a fad. I'm 45, a bit overweight and have high blood pressure. What does the science actually "
        "say about it?",
        "why did the roman empire fall",
        "what is {concept}",
        "how do planes stay in the air",
        "what happens to your body when you don't sleep for 24 hours",
        "how does {thing} actually work",
        "what's the capital of australia, i always forget",
        "Is it true that we only use 10% of our brain?",
        "tell me about the history of {city}",
        "in chess, why is castling even a thing",
        "whats the difference between weather and climate",
        "so I was arguing with my brother last night about whether tomatoes are a fruit or a vegetable. He "
        "says vegetable because you put them in salad. Who's right?",
        "How do vaccines train the immune system?",
        "why do cats purr",
        "what was the cold war about",
        "what are the main differences between stoicism and buddhism",
        "how long does light from the sun take to reach earth",
        "I'm a first year student and we touched on {concept} in class today, but the lecturer went through "
        "it super fast. Could you explain it properly, maybe with an everyday example?",
        "is {topic} good or bad for society? what are the arguments on each side",
        "can you explain why {concept} matters in everyday life",
    ),
}

LANGUAGES: tuple[Lang, ...] = (Lang(code="en", name="English", pools=_POOLS, templates=_TEMPLATES),)
