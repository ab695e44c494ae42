"""What demo patients write in their post-visit surveys, by how the visit went.

Comments are grouped by the touchpoint they are about (the rating their writer gives
lowest, or highest), "" for a general remark. ``{hygienist}``, ``{dentist}`` and ``{desk}``
are filled with the names of the practice's staff, the way patients write them
("Dr. Okafor", "Maria Lopez"), so the analysis finds who is named.
"""

from __future__ import annotations

POSITIVE: dict[str, tuple[str, ...]] = {
    "hygiene": (
        "{hygienist} was gentle and thorough with my cleaning and explained everything as we went.",
        "My cleaning was quick and painless. {hygienist} was wonderful with my nervous teenager.",
        "Thorough cleaning and helpful tips on flossing, without any lecturing.",
        "{hygienist} remembered my kids' names from last time. Lovely hygienist.",
    ),
    "waiting": (
        "In and out in under an hour, and I was seen right on time.",
        "Seen on time, no waiting around. Much appreciated on a work day.",
    ),
    "arrival_reception": (
        "The front desk greeted me by name. Small thing, but it makes a difference.",
        "Friendly welcome at the front desk and check-in was easy.",
        "{desk} at the front desk fit me in the same week when I called about a chipped tooth. "
        "Thank you!",
    ),
    "treatment_cost": (
        "{dentist} explained my options and what each would cost before doing anything. Really "
        "appreciated the honesty.",
        "Clear explanation of the treatment plan and what my insurance covers. Thank you for "
        "being upfront about the cost.",
        "Thank you for walking me through the estimate line by line. No surprises on the bill.",
    ),
    "dentist_care": (
        "{dentist} is patient and kind. I always feel in good hands.",
        "{dentist} took the time to answer all my questions. I finally understand what is going "
        "on with my gums.",
    ),
    "comfort_pain": (
        "I am terrified of the dentist and this was the first time I did not dread it. Thank "
        "you for being so gentle.",
        "The filling was completely painless. I barely felt the numbing.",
        "They checked on me several times during the filling and let me take breaks. Much more "
        "comfortable than I expected.",
    ),
    "reminders": (
        "The text reminders are really helpful, and booking my next cleaning took a minute.",
        "Easy to reschedule by text when my son got sick. Great system.",
    ),
    "billing_insurance": (
        "The billing team sorted out my insurance claim without me having to chase anything. "
        "Great service.",
    ),
    "facility": ("Spotless office and a calm, relaxing atmosphere.",),
    "follow_up": (
        "{dentist} called the evening after my extraction to check on me. I have never had a "
        "dentist do that. Impressed.",
    ),
    "digital": (
        "Filling in the forms online before the visit saved a lot of time. Very convenient.",
    ),
    "": (
        "Always a great experience. The whole team is friendly and professional.",
        "Excellent care as always. I have recommended you to two coworkers.",
        "Great with kids. My daughter actually looks forward to her visits!",
        "Professional, friendly and on time. Nothing to improve.",
        "Twelve years with this practice and I would not go anywhere else. Thank you all.",
        "Wonderful team. I felt listened to and cared for.",
    ),
}

MIXED: dict[str, tuple[str, ...]] = {
    "waiting": (
        "Good cleaning, but I waited about 20 minutes past my appointment time.",
        "Running late happens, but a quick heads-up would be nice.",
    ),
    "billing_insurance": (
        "The dentist was great, but I am still confused about my bill. The statement did not "
        "match the estimate.",
        "Please send the insurance paperwork sooner. I had to call twice.",
    ),
    "phone_booking": (
        "Nice staff, but the phone line is always busy and it took three tries to reach someone.",
    ),
    "treatment_cost": (
        "Good work on the filling, but I would have liked to know the cost before we started.",
        "The estimate was clear, but prices have gone up a lot this year.",
    ),
    "reminders": ("I got three reminders for the same appointment, which was a bit much.",),
    "comfort_pain": (
        "The cleaning was more uncomfortable than usual. Maybe a bit gentler next time.",
    ),
    "dentist_care": (
        "{dentist} seemed rushed today. The work was fine but there was no time for my questions.",
    ),
    "hygiene": ("{hygienist} was lovely, but the cleaning felt rushed.",),
    "checkout": ("Checkout took a while because the card machine was not working.",),
    "facility": (
        "The office looks a bit tired and the equipment is old. A fresh coat of paint would help.",
        "Care is good. Parking is a nightmare though.",
    ),
    "digital": (
        "The online forms did not work on my phone, so I filled them in again at the desk.",
    ),
    "arrival_reception": (
        "The receptionist was on the phone for five minutes before acknowledging me.",
    ),
    "": (
        "All fine. Nothing special to report.",
        "Fine, as usual. It would be nice to have evening appointments.",
    ),
}

NEGATIVE: dict[str, tuple[str, ...]] = {
    "waiting": (
        "Waited 45 minutes past my appointment time and nobody told me why. My time matters too.",
        "Second time in a row I was kept waiting over half an hour. I had to leave work early "
        "for this and it was a waste.",
        "Waited 30 minutes, then the front desk told me I had the wrong day. I had the reminder "
        "text on my phone. Annoyed.",
    ),
    "billing_insurance": (
        "I was charged for a treatment my insurance was supposed to cover, and nobody at the "
        "office could explain why. Very frustrating.",
        "Got a surprise bill three months later. Nobody mentioned any extra charge at the visit.",
        "The billing office keeps sending statements for a balance I already paid. Frustrating.",
    ),
    "treatment_cost": (
        "Nobody explained the cost before the work was started. The bill was a shock.",
        "I felt pressured into whitening I did not ask for. The upselling was uncomfortable.",
    ),
    "arrival_reception": (
        "The front desk was rude when I asked to reschedule. I felt like a nuisance.",
        "Nobody at the front desk looked up when I arrived. I felt unwelcome and ignored.",
    ),
    "hygiene": (
        "The hygienist was rough and my gums were sore for days. I asked to stop and was ignored.",
        "The lecture about flossing felt condescending. I am an adult.",
    ),
    "comfort_pain": (
        "The numbing did not work properly and it really hurt. Nobody checked on me.",
    ),
    "dentist_care": (
        "The dentist barely spoke to me and was out of the room in five minutes. Disappointing.",
    ),
    "reminders": (
        "My appointment was cancelled by text the night before with no explanation. Not "
        "acceptable.",
    ),
    "phone_booking": (
        "Impossible to get through on the phone. I left two messages and nobody called back.",
    ),
    "checkout": (
        "Poor organisation at checkout: nobody booked my next cleaning, and now I have to wait "
        "three months for a slot.",
    ),
    "follow_up": (
        "Nobody followed up after my extraction, even though I had told them how worried I was. "
        "Disappointed.",
    ),
    "facility": (
        "The restroom was dirty and the waiting room smelled musty. Not what I expect from a "
        "dental office.",
    ),
    "": ("Disappointed. It used to be a great practice but now it feels like a conveyor belt.",),
}

# What patients drifting away mention (story 1's Dana, in other words): equipment that feels
# dated, a long drive, nowhere to park. Written more often the more restless the patient
# (see ``feedback``); all read as negative remarks about the facility, none as urgent.
AWAY: dict[str, tuple[str, ...]] = {
    "equipment": (
        "The equipment feels dated compared with the newer practices around here.",
        "Still no digital x-rays, and the equipment feels dated.",
        "The chairs and the equipment look outdated now. Other offices have modern equipment.",
        "Everyone is nice, but the equipment feels dated.",
        "It feels like the office has not changed its equipment in twenty years. Dated and a "
        "bit tired.",
    ),
    "distance": (
        "It is a long drive now since we moved, and traffic makes it worse.",
        "Since we moved it is a long drive each way, and then parking is impossible.",
        "Parking is impossible on weekdays, I had to park three blocks away.",
        "Parking is impossible. I drove around for fifteen minutes and was late.",
        "A long drive now, and the parking is impossible at this time of day.",
    ),
}

# Answers to "Anything we should know before your next visit?": notes, not opinions.
NOTES: tuple[str, ...] = (
    "Please book me early in the morning if possible.",
    "I am pregnant, due in June.",
    "New insurance from January, I will bring the card.",
    "Needles make me nervous, please go slowly.",
    "Please text rather than call.",
    "I have a new phone number, I will update it at the desk.",
    "My husband will bring our son next time.",
    "Could we do both kids back to back?",
)
