"""Suggested words for each playbook step: a starting point, said in the owner's own voice."""

from __future__ import annotations

from recovery.models import StepKind

GUIDANCE: dict[str, dict[str, object]] = {
    StepKind.ACKNOWLEDGE: {
        "aim": "Let them know, quickly and personally, that they were heard.",
        "words": [
            "Thank you for telling us. I am sorry this happened.",
            "I am looking into it myself, and I will call you back by the end of the day.",
        ],
        "message": "case_acknowledgement",
    },
    StepKind.LISTEN: {
        "aim": "Encourage them to tell the whole story; do not explain or defend yet.",
        "words": [
            "Could you tell me what happened, from the beginning?",
            "How did that make you feel?",
            "Is there anything else I should know?",
        ],
        "hint": "Write down their account and their feelings in their own words.",
    },
    StepKind.THANK: {
        "aim": "Thank them for speaking up and validate how they feel.",
        "words": [
            "Thank you for telling me; most people would simply leave, and we would never know.",
            "You were right to expect better, and I understand why you were upset.",
        ],
    },
    StepKind.PLAN: {
        "aim": "Agree the next steps with them, not for them.",
        "words": [
            "Here is what I would like to do about it. Would that put it right for you?",
            "Is there anything else that would help?",
        ],
        "hint": "Write down the plan as agreed, with who does what and by when.",
        "message": "case_apology",
    },
    StepKind.IMPLEMENT: {
        "aim": "Do what was agreed, when it was agreed, and tell them it is done.",
        "words": ["I wanted to let you know that what we agreed is done."],
        "hint": "Record what was done. A gesture or a next-visit alert can be part of it.",
    },
    StepKind.FOLLOW_UP: {
        "aim": "Check that it really is put right; a second failure does lasting harm.",
        "words": [
            "I wanted to check in: is everything all right now?",
            "Is there anything still not right?",
        ],
        "hint": "A follow-up survey goes out a day before this is due; a call is better still.",
    },
}
