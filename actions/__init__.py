"""The rasa-sdk action server: thin actions that ask bot/ for answers and say them."""
