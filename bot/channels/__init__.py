"""Our input channels: Rasa's own, fixed or hardened where they fall short (see each module)."""
