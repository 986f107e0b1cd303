"""Readable titles for intents, for buttons such as "Did you mean: Recovery time?"."""

TITLES = {
    "ask_definition": "What BME is",
    "ask_nature": "Is BME a diagnosis?",
    "ask_locations": "Where BME happens",
    "ask_cause": "What causes BME",
    "ask_symptoms": "Symptoms",
    "ask_red_flags": "Warning signs",
    "ask_imaging": "Scans and diagnosis",
    "ask_mri_patterns": "MRI patterns",
    "ask_treatment": "Treatment",
    "ask_advanced_treatment": "When rest isn't enough",
    "ask_recovery_time": "Recovery time",
    "ask_return_to_activity": "Getting back to sport",
    "ask_prevention": "Stopping it coming back",
    "ask_shoes": "Shoes",
    "ask_expert_views": "What the experts say",
    "faq_heal_on_own": "Can it heal on its own?",
    "faq_is_serious": "Is it serious?",
    "faq_what_to_avoid": "What to avoid",
    "faq_ultrasound": "Can ultrasound see it?",
    "faq_surgery": "Do I need surgery?",
    "faq_walking": "Can I walk on it?",
    "myth_always_fracture": "Is it a stress fracture?",
    "myth_total_rest": "Do I need total rest?",
    "myth_xray": "Does an X-ray show it?",
    "myth_pain_free_healed": "No pain, so healed?",
    "symptom_check": "Check my symptoms",
    "bot_challenge": "Who am I talking to?",
    "help": "What I can help with",
}


def title(intent: str) -> str | None:
    """The title of a topic a user might have meant, or None for conversational intents."""
    return TITLES.get(intent)
