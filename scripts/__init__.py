"""Scripts run by hand (``python scripts/<name>.py``) and, for some, by the tests."""
