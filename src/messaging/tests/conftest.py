"""The SMTP sink fixture lives in the root conftest.py, shared with other apps."""
