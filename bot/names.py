"""Names that the domain, the NLU components, the policies, the actions and the tests share.

Each is also written in domain.yml or data/rules; tests/unit/test_names.py checks they agree.
"""

from __future__ import annotations

# Safety: a described warning sign, and the response Rasa says itself for it.
RED_FLAG_INTENT = "red_flag"
URGENT_RESPONSE = "utter_urgent_care"
# The parse result's key for the red-flag detector's assessment (bot/nlu/red_flag_override.py).
RED_FLAGS_KEY = "red_flags"

# The parse result's keys for the questions of a message that asks several, and for how the
# undivided message was classified.
PARTS_KEY = "parts"
WHOLE_KEY = "whole_message"

# Rasa's fallback intent (FallbackClassifier), and the one action that answers questions.
FALLBACK_INTENT = "nlu_fallback"
ANSWER_ACTION = "action_answer"

# Forms: the choice form waits for a typed answer to the assistant's own question.
CHOICE_FORM = "choice_form"
SYMPTOM_CHECK_FORM = "symptom_check_form"
TOPIC_SLOT = "topic"
LOCATION_SLOT = "location"  # where the user said their BME is, for "which shoes then?"
CHOICE_SLOT = "choice"

# A user's 👍 or 👎 on one bubble, kept in the conversation as this slot's value (no policy
# reads it: bot/feedback.py).
FEEDBACK_SLOT = "feedback"
# Erasure on request (docs/privacy.md): "delete my conversation" asks for confirmation
# (erasure_form, its answer in ERASURE_ANSWER_SLOT); on a yes, the action sets ERASE_SLOT, and
# the tracker store, seeing that marker, deletes the conversation instead of saving the turn.
DELETE_INTENT = "delete_conversation"
ERASURE_FORM = "erasure_form"
ERASURE_ANSWER_SLOT = "erasure_answer"
ERASE_SLOT = "erase_conversation"
ERASE_ACTION = "action_erase_conversation"
# The reply that confirms an erasure: the web chat then also forgets the conversation it keeps.
ERASED_ANSWER = "privacy.deleted"
