class RecoveryError(Exception):
    """A problem with a recovery case that can be shown to the person."""
