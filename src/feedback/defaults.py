"""The three surveys every organisation starts with; managers edit their own copies."""

from __future__ import annotations

NPS = "How likely are you to recommend {practice} to a friend or family member?"

# The exit survey's answers, keyed by the departure reason each one records
# (``Patient.DepartureReason``): a departed patient's answer fills in a blank reason.
EXIT_REASON_CHOICES: dict[str, str] = {
    "moved": "I moved or found a practice closer to home",
    "cost": "Cost",
    "insurance": "Insurance",
    "equipment": "Equipment or technology",
    "service": "The service I received",
    "clinical": "My clinical care",
    "third_party": "A lab, specialist or other third party",
    "other": "Another reason",
}

DEFAULT_SURVEYS: dict[str, dict] = {
    "post_visit": {
        "title": "How was your visit?",
        "intro": "Four quick questions, under a minute. Your answers go to the practice team.",
        "thanks": "Thank you. We read every answer, and we act on them.",
        "questions": [
            {"kind": "nps", "text": NPS, "is_required": True},
            {"kind": "rating", "text": "Booking and reminders", "touchpoint": "reminders"},
            {
                "kind": "rating",
                "text": "Welcome at the front desk",
                "touchpoint": "arrival_reception",
            },
            {"kind": "rating", "text": "Waiting time", "touchpoint": "waiting"},
            {"kind": "rating", "text": "Care from your hygienist", "touchpoint": "hygiene"},
            {"kind": "rating", "text": "Care from your dentist", "touchpoint": "dentist_care"},
            {"kind": "rating", "text": "Comfort during treatment", "touchpoint": "comfort_pain"},
            {
                "kind": "rating",
                "text": "How clearly treatment and costs were explained",
                "touchpoint": "treatment_cost",
            },
            {"kind": "text", "text": "One thing we could do better"},
            {"kind": "text", "text": "Anything we should know before your next visit?"},
        ],
    },
    "relationship": {
        "title": "Our yearly check-in with you",
        "intro": "Once a year we ask how we are doing for you and your family.",
        "thanks": "Thank you for staying with us.",
        "questions": [
            {"kind": "nps", "text": NPS, "is_required": True},
            {"kind": "yes_no", "text": "Do you feel we listen to you?"},
            {"kind": "rating", "text": "Our facility and equipment", "touchpoint": "facility"},
            {"kind": "rating", "text": "Billing and insurance", "touchpoint": "billing_insurance"},
            {"kind": "text", "text": "What matters most to you in your dental care?"},
            {"kind": "text", "text": "What would make us your practice for life?"},
        ],
    },
    "exit": {
        "title": "Before you go",
        "intro": "We are sorry to see you go. One question helps us do better.",
        "thanks": "Thank you, and the door is always open.",
        "questions": [
            {
                "kind": "choice",
                "text": "What is the main reason you are leaving?",
                "choices": list(EXIT_REASON_CHOICES.values()),
                "is_required": True,
            },
            {"kind": "text", "text": "Anything you would like to tell us?"},
        ],
    },
    "follow_up": {
        "title": "Did we put it right?",
        "intro": "You told us something went wrong. Two questions: did we put it right?",
        "thanks": "Thank you for giving us the chance to put it right.",
        "questions": [
            {"kind": "nps", "text": NPS, "is_required": True},
            {"kind": "text", "text": "Is there anything still not right?"},
        ],
    },
}
