"""The messaging app's one domain error."""


class MessagingError(Exception):
    """A message cannot be written or a template is not acceptable; the text says why."""
