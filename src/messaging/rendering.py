"""Message wording that practices edit, rendered in a sandbox.

A practice's template is text written by staff, so it must not reach anything a staff
member could not see anyway: the engine knows only a few harmless tags and filters, loads
no libraries and no files, and the context holds plain values (no model objects to walk).
``{% debug %}``, ``{% load %}``, ``{% include %}``, ``|safe`` and ``{% autoescape off %}``
are refused when the template is saved, with a message naming the tag.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import Lexer, TokenType, VariableNode
from django.utils.html import linebreaks, urlize

from messaging.errors import MessagingError
from messaging.models import Channel

ALLOWED_TAGS = {
    "if": defaulttags.do_if,
    "comment": defaulttags.comment,
    "firstof": defaulttags.firstof,
    "now": defaulttags.now,
}
# Closing and branch words of the allowed tags, which the lexer also reports as block tags.
_TAG_WORDS = {*ALLOWED_TAGS, "elif", "else", "endif", "endcomment"}
ALLOWED_FILTERS = (
    "capfirst",
    "date",
    "default",
    "default_if_none",
    "escape",
    "length",
    "lower",
    "time",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "yesno",
)
# The only names a template may use. Callers pass values for some of them; the rest are
# filled from the patient and practice.
VARIABLES = {
    "recipient_first_name": "first name of the person receiving the message",
    "patient_first_name": "first name of the patient the message is about",
    "is_for_dependant": "true when the recipient is a minor patient's guardian",
    "practice_name": "the practice's name",
    "practice_phone": "the practice's phone number",
    "link": "the link the message is about (survey, form, …)",
    "unsubscribe_link": "one-click link to stop messages on this channel",
    "visit_date": "date of the visit the message is about",
    "provider_name": "dentist or hygienist seen",
    "survey_title": "title of the survey the link opens",
    "staff_name": "name of the team member writing",
    "due_date": "the date a request will be answered by, at the latest",
    "years_with_us": "whole years since the patient's first visit (0 when under a year)",
}
_VALUE_TYPES = (str, bool, int, dt.date)
MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 10_000


def _library() -> Library:
    library = Library()
    library.tags.update(ALLOWED_TAGS)
    for name in ALLOWED_FILTERS:
        # The registered function carries is_safe / needs_autoescape flags; keep them.
        library.filters[name] = defaultfilters.register.filters[name]
    return library


class SandboxEngine(Engine):
    """A template engine with no default tags, no libraries and no loaders.

    Escaping is chosen per render by the ``Context``: on for HTML, off for plain text.
    """

    default_builtins: list[str] = []

    def __init__(self) -> None:
        super().__init__(loaders=[], libraries={}, builtins=[], string_if_invalid="")
        self.template_builtins = [_library()]


SANDBOX = SandboxEngine()


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str
    html_body: str


DEFAULT_TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    ("survey_invitation", Channel.EMAIL): (
        "How was your visit to {{ practice_name }}?",
        "Hello {{ recipient_first_name }},\n\n"
        "Thank you for {% if is_for_dependant %}bringing {{ patient_first_name }} to"
        "{% else %}visiting{% endif %} {{ practice_name }}. Would you tell us how it went? "
        "It takes less than a minute:\n\n"
        "{{ link }}\n\n"
        "Our team reads every answer, and we use what you tell us to make the next visit "
        "better.\n\n"
        "{{ practice_name }}{% if practice_phone %} · {{ practice_phone }}{% endif %}\n"
        "{% if unsubscribe_link %}\nTo stop receiving these emails: {{ unsubscribe_link }}\n"
        "{% endif %}",
    ),
    ("survey_invitation", Channel.SMS): (
        "",
        "{{ practice_name }}: thank you for "
        "{% if is_for_dependant %}bringing {{ patient_first_name }} in{% else %}your visit"
        "{% endif %}. How did it go? {{ link }}"
        "{% if unsubscribe_link %} Opt out: {{ unsubscribe_link }}{% endif %}",
    ),
}


DEFAULT_TEMPLATES.update(
    {
        ("case_acknowledgement", Channel.EMAIL): (
            "Thank you for telling us, {{ recipient_first_name }}",
            "Dear {{ recipient_first_name }},\n\n"
            "Thank you for telling us what happened"
            "{% if is_for_dependant %} at {{ patient_first_name }}'s visit{% endif %}. "
            "I am sorry; it is not the experience we want anyone to have at "
            "{{ practice_name }}.\n\n"
            "I am looking into it personally and would like to hear the whole story from you. "
            "I will call you shortly; if another time suits you better, call me"
            "{% if practice_phone %} on {{ practice_phone }}{% endif %} or reply to this "
            "email.\n\n"
            "{{ staff_name }}\n{{ practice_name }}\n",
        ),
        ("case_acknowledgement", Channel.SMS): (
            "",
            "{{ practice_name }}: thank you for telling us, {{ recipient_first_name }}. "
            "I am sorry and I am looking into it; I will call you shortly. {{ staff_name }}",
        ),
        ("case_follow_up_survey", Channel.EMAIL): (
            "Did we put it right, {{ recipient_first_name }}?",
            "Hello {{ recipient_first_name }},\n\n"
            "A little while ago you told us something had gone wrong, and we agreed how to "
            "put it right. Would you tell us, in two questions, whether we did?\n\n"
            "{{ link }}\n\n"
            "{{ practice_name }}{% if practice_phone %} · {{ practice_phone }}{% endif %}\n"
            "{% if unsubscribe_link %}\nTo stop receiving these emails: {{ unsubscribe_link }}\n"
            "{% endif %}",
        ),
        ("case_follow_up_survey", Channel.SMS): (
            "",
            "{{ practice_name }}: did we put it right, {{ recipient_first_name }}? "
            "Two questions: {{ link }}"
            "{% if unsubscribe_link %} Opt out: {{ unsubscribe_link }}{% endif %}",
        ),
        ("case_apology", Channel.EMAIL): (
            "Our apology, and what we are doing about it",
            "Dear {{ recipient_first_name }},\n\n"
            "Thank you for taking the time to tell us what happened, and for your patience "
            "while we looked into it. You were right to tell us, and I am sorry.\n\n"
            "Here is what we agreed, and what we have done:\n\n"
            "[write the plan in your own words]\n\n"
            "We will check in with you in a week to make sure it has been put right.\n\n"
            "With my apologies,\n{{ staff_name }}\n{{ practice_name }}"
            "{% if practice_phone %} · {{ practice_phone }}{% endif %}\n",
        ),
        ("records_acknowledgement", Channel.EMAIL): (
            "We have your records request, {{ recipient_first_name }}",
            "Dear {{ recipient_first_name }},\n\n"
            "Thank you for your request for "
            "{% if is_for_dependant %}{{ patient_first_name }}'s{% else %}your{% endif %} "
            "records. We have it, and we aim to send them within two working days; at the "
            "latest you will have them by {{ due_date|date:'F j, Y' }}. There is no charge.\n\n"
            "If anything is unclear, call us{% if practice_phone %} on {{ practice_phone }}"
            "{% endif %}.\n\n{{ practice_name }}\n",
        ),
        ("records_acknowledgement", Channel.SMS): (
            "",
            "{{ practice_name }}: we have your records request, {{ recipient_first_name }}. "
            "You will have them by {{ due_date|date:'M j' }} at the latest, free of charge.",
        ),
        ("case_apology", Channel.SMS): (
            "",
            "{{ practice_name }}: {{ recipient_first_name }}, I am sorry for what happened. "
            "[what we agreed and did]. {{ staff_name }}",
        ),
    }
)


# Said once, when a patient leaves: thanks, their records are theirs, the door stays open.
# ``link`` is the exit survey, so it comes with the survey's ``unsubscribe_link``.
_YEARS = (
    "{% if years_with_us > 1 %}the {{ years_with_us }} years you have been with us"
    "{% elif years_with_us == 1 %}the year you have been with us"
    "{% else %}the time you have been with us{% endif %}"
)
DEFAULT_TEMPLATES.update(
    {
        ("farewell_letter", Channel.EMAIL): (
            "Thank you, {{ recipient_first_name }}",
            "Dear {{ recipient_first_name }},\n\n"
            "Thank you for " + _YEARS + " at {{ practice_name }}. It has been a privilege "
            "to care for {% if is_for_dependant %}{{ patient_first_name }}{% else %}you"
            "{% endif %}, and we are sorry to see you go.\n\n"
            "{% if is_for_dependant %}{{ patient_first_name }}'s records are theirs"
            "{% else %}Your records are yours{% endif %}: we will send them to you, to your "
            "new dentist, or wherever you like. Just ask"
            "{% if practice_phone %} by calling {{ practice_phone }} or{% endif %} by "
            "replying to this email.\n\n"
            "If you have a minute, would you tell us why you are leaving? It is one "
            "question, and it helps us do better:\n\n"
            "{{ link }}\n\n"
            "Whatever the reason, our door is always open. If you ever want to come back, "
            "we will be glad to see you.\n\n"
            "With warm wishes,\nThe team at {{ practice_name }}\n"
            "{% if unsubscribe_link %}\nTo stop receiving these emails: {{ unsubscribe_link }}\n"
            "{% endif %}",
        ),
        ("farewell_letter", Channel.SMS): (
            "",
            "{{ practice_name }}: {{ recipient_first_name }}, thank you for " + _YEARS + ". "
            "{% if is_for_dependant %}{{ patient_first_name }}'s records are theirs"
            "{% else %}Your records are yours{% endif %}; we will send them wherever you "
            "like. Why are you leaving? One question: {{ link }} Our door is always open."
            "{% if unsubscribe_link %} Opt out: {{ unsubscribe_link }}{% endif %}",
        ),
    }
)


def _compile(source: str, *, field: str) -> Template:
    if "\x00" in source:
        raise MessagingError(f"{field}: contains a NUL character")
    for token in Lexer(source).tokenize():
        if token.token_type is TokenType.BLOCK:
            word = (token.contents.split() or [""])[0]
            if word not in _TAG_WORDS:
                allowed = ", ".join(sorted(ALLOWED_TAGS))
                raise MessagingError(
                    f"{field}, line {token.lineno}: {{% {word} %}} is not allowed in message "
                    f"templates (allowed tags: {allowed})"
                )
    try:
        template = Template(source, engine=SANDBOX)
    except TemplateSyntaxError as exc:
        raise MessagingError(f"{field}: {exc}") from None
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        lookups = getattr(node.filter_expression.var, "lookups", None)
        if lookups and lookups[0] not in VARIABLES:
            known = ", ".join(sorted(VARIABLES))
            raise MessagingError(
                f"{field}: unknown variable {{{{ {lookups[0]} }}}} (available: {known})"
            )
    return template


def validate_template_source(source: str, *, field: str = "template") -> None:
    """Raise ``MessagingError`` naming the problem if a practice's template is not allowed."""
    _compile(source, field=field)


def validate_template_fields(*, channel: str, subject: str, body: str) -> None:
    if channel == Channel.EMAIL and not subject.strip():
        raise MessagingError("subject: an email needs a subject")
    if "\r" in subject or "\n" in subject:
        raise MessagingError("subject: must be one line")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise MessagingError(f"subject: at most {MAX_SUBJECT_CHARS} characters")
    if not body.strip():
        raise MessagingError("body: a message needs a body")
    if len(body) > MAX_BODY_CHARS:
        raise MessagingError(f"body: at most {MAX_BODY_CHARS} characters")
    validate_template_source(subject, field="subject")
    validate_template_source(body, field="body")


def _clean_context(context: dict) -> dict:
    unknown = set(context) - set(VARIABLES)
    if unknown:
        raise MessagingError(f"unknown template variables: {', '.join(sorted(unknown))}")
    cleaned = {}
    for name, value in context.items():
        if value is None:
            value = ""
        if not isinstance(value, _VALUE_TYPES):
            # Model instances and other objects would let a template walk relations.
            value = str(value)
        if isinstance(value, str) and "\x00" in value:
            raise MessagingError(f"{name}: contains a NUL character")
        cleaned[name] = value
    return cleaned


def render_message(*, subject: str, body: str, channel: str, context: dict) -> RenderedMessage:
    """Render a template's subject and body; an email also gets an HTML alternative."""
    values = _clean_context(context)
    body_template = _compile(body, field="body")
    # Plain text (subject, text body, SMS) is not HTML: escaping it would show "&amp;".
    text_subject = _compile(subject, field="subject").render(Context(values, autoescape=False))
    text_body = body_template.render(Context(values, autoescape=False))
    html_body = ""
    if channel == Channel.EMAIL:
        escaped = body_template.render(Context(values, autoescape=True))
        # Already escaped by the engine: only add paragraphs and links.
        html_body = linebreaks(urlize(escaped.strip(), autoescape=False))
    return RenderedMessage(
        # A value with a line break must not split the subject header.
        subject=" ".join(text_subject.split()),
        body=text_body.strip() + "\n" if channel == Channel.EMAIL else " ".join(text_body.split()),
        html_body=html_body,
    )
