"""The benchmark (`make bench`, `python -m tools.benchmark`): our assistant against stock Rasa on
a load shaped like real use. __main__.py runs it; mix.py is the simulated users, load.py sends
their messages and times the replies, servers.py starts what is measured, report.py writes the
ratios and tables, calibration.py dates the machine's speed."""
