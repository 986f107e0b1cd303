"""Our additions to Rasa's dialogue management."""
