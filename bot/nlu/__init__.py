"""Our additions to Rasa's NLU pipeline: the spaCy pipeline build and custom components."""
