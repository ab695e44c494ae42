"""The template sandbox: practices edit wording, never reach beyond it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from messaging.models import MessageTemplate
from messaging.rendering import DEFAULT_TEMPLATES, render_message
from messaging.services import MessagingError, message_template_save


def save(body="Hello {{ recipient_first_name }} {{ link }}", subject="Your visit", **kw):
    return message_template_save(
        practice=kw.pop("practice", None),
        kind="survey_invitation",
        channel=kw.pop("channel", "email"),
        subject=subject,
        body=body,
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{% debug %}", r"\{% debug %\} is not allowed"),
        ("{% load static %}{% static 'x' %}", r"\{% load %\} is not allowed"),
        ("{% include 'base.html' %}", r"\{% include %\} is not allowed"),
        ("{% extends 'base.html' %}", r"\{% extends %\} is not allowed"),
        ("{% autoescape off %}{{ link }}{% endautoescape %}", r"\{% autoescape %\} is not"),
        ("{% for x in link %}{{ x }}{% endfor %}", r"\{% for %\} is not allowed"),
        ("{% url 'admin:index' %}", r"\{% url %\} is not allowed"),
        ("{{ link|safe }}", "Invalid filter: 'safe'"),
        ("{{ link|pprint }}", "Invalid filter: 'pprint'"),
        ("{{ settings.SECRET_KEY }}", r"unknown variable \{\{ settings \}\}"),
        ("{{ link.__class__ }}", "may not begin with underscores"),
        ("{% if link %}unclosed", "Unclosed tag"),
        ("Hi\x00", "NUL"),
    ],
)
def test_unsafe_or_broken_templates_are_refused_on_save(db, body, error):
    with pytest.raises(MessagingError, match=error):
        save(body=body)
    assert MessageTemplate.objects.count() == 0


def test_forbidden_tag_error_names_the_line_and_the_allowed_tags(db):
    with pytest.raises(MessagingError) as caught:
        save(body="Hello\n\n{% debug %}")
    assert str(caught.value) == (
        "body, line 3: {% debug %} is not allowed in message templates "
        "(allowed tags: comment, firstof, if, now)"
    )


def test_model_validation_refuses_too(db):
    template = MessageTemplate(kind="x", channel="email", subject="S", body="{% debug %}")
    with pytest.raises(ValidationError, match="not allowed"):
        template.full_clean()


def test_subject_must_be_one_line_and_email_needs_one(db):
    with pytest.raises(MessagingError, match="subject: must be one line"):
        save(subject="Hello\r\nBcc: x@evil.example")
    with pytest.raises(MessagingError, match="an email needs a subject"):
        save(subject="")
    assert save(subject="", channel="sms").subject == ""


def test_allowed_tags_and_filters_work(db):
    body = (
        "{% if patient_first_name %}Hi {{ patient_first_name|upper }}{% else %}Hi{% endif %}"
        "{# a note #} {% firstof provider_name 'our team' %} {{ visit_date|date:'M j' }}"
    )
    save(body=body)
    import datetime as dt

    rendered = render_message(
        subject="S",
        body=body,
        channel="sms",
        context={"patient_first_name": "Dana", "visit_date": dt.date(2026, 3, 4)},
    )
    assert rendered.body == "Hi DANA our team Mar 4"


def test_values_are_escaped_in_html_and_left_plain_in_text():
    rendered = render_message(
        subject="Visit to {{ practice_name }}",
        body="Thanks from {{ practice_name }}\n\n{{ link }}",
        channel="email",
        context={
            "practice_name": "<script>alert(1)</script> & Co",
            "link": 'https://rapport.test/s/x"><img src=x onerror=alert(1)>',
        },
    )
    assert "<script>" not in rendered.html_body and "<img" not in rendered.html_body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in rendered.html_body
    assert rendered.body.startswith("Thanks from <script>alert(1)</script> & Co")


def test_a_value_with_line_breaks_cannot_split_the_subject():
    rendered = render_message(
        subject="Visit to {{ practice_name }}",
        body="x",
        channel="email",
        context={"practice_name": "Maple\r\nBcc: victim@evil.example"},
    )
    assert rendered.subject == "Visit to Maple Bcc: victim@evil.example"


def test_objects_in_the_context_become_plain_text(patient):
    rendered = render_message(
        subject="S",
        body="{{ link }}|{{ link.practice }}",
        channel="sms",
        context={"link": patient},
    )
    # The template sees the patient's name as text, not an object with relations to walk.
    assert rendered.body == f"{patient}|"


@pytest.mark.parametrize("key", sorted(DEFAULT_TEMPLATES))
def test_default_wordings_are_valid(db, key):
    kind, channel = key
    subject, body = DEFAULT_TEMPLATES[key]
    template = message_template_save(
        practice=None, kind=kind, channel=channel, subject=subject, body=body
    )
    if kind.endswith("survey_invitation") or kind.endswith("_survey"):
        # A survey link always comes with a way to stop receiving them.
        assert "{{ link }}" in template.body and "{{ unsubscribe_link }}" in template.body
    else:
        assert "{{ recipient_first_name }}" in template.body
