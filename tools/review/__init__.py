"""The review page: the turns worth a look, from the tracker store, and labels that become training data.

Rasa's way of improving an assistant is to read real conversations, see where it misunderstood,
and turn those messages into training examples. `make review` serves a page on this machine
that lists, newest first, the turns worth a look:

- "did you mean" fallbacks (answer id `clarify`) and out-of-scope answers;
- messages the classifier was unsure of (its three likeliest intents, with confidences);
- messages sent to urgent care, with the layer that fired (classifier, detector, both);
- answers a user gave 👎.

with filters by kind and date, the conversation around each turn, and a chart of the last 30
days (conversations a day, the fallback rate, urgent responses; inline SVG drawn here). A
reviewer gives a message its right intent (or "out of scope"); the labels are kept in
`var/review-labels.json` and written as Rasa NLU YAML to `data/nlu/reviewed.yml`, ready for
`make train`, leaving out every message already in a test set or in the training data.

- store.py: reads the `events` table (SQLite or PostgreSQL) into an index of turns, once, then
  only the rows added since: every page is built from memory.
- labels.py: the labels, and the NLU file they become.
- page.py: the HTML and the chart.
- __main__.py: the command line and the local web server.
"""
