"""Set-up and check scripts (run as files: `python scripts/demo.py`); a package so that tests can import them."""
