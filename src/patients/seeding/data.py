"""Word lists for synthetic data: names, places, streets and relationship-profile phrases.

Shipped with the code because Faker is a development dependency only. Story surnames
(Whitfield, Ortega, Nair, Lee, Brandt) are left out on purpose so generated people never
collide with the demo's story patients.
"""

from __future__ import annotations

# fmt: off
FEMALE_FIRST_NAMES = (
    "Abigail", "Adaeze", "Aiko", "Alejandra", "Alice", "Amara", "Amelia", "Ana", "Andrea",
    "Angela", "Anjali", "Ava", "Ayesha", "Beatriz", "Brenda", "Camila", "Carmen", "Caroline",
    "Catherine", "Charlotte", "Chloe", "Claire", "Daniela", "Deborah", "Deepa", "Destiny",
    "Diana", "Ebony", "Elena", "Elizabeth", "Ella", "Emily", "Emma", "Esther", "Eun-ji",
    "Fatima", "Fiona", "Gabriela", "Hana", "Hannah", "Harper", "Ifeoma", "Imani", "Ingrid",
    "Isabella", "Jasmine", "Jennifer", "Jessica", "Joanna", "Julia", "Kaitlyn", "Katherine",
    "Keisha", "Kimberly", "Laila", "Laura", "Leah", "Lucía", "Lucy", "Madison", "Mai",
    "Margaret", "María", "Mariam", "Megan", "Mei", "Mia", "Michelle", "Mónica", "Nadia",
    "Naomi", "Natalie", "Nia", "Nicole", "Noa", "Olivia", "Patricia", "Paula", "Rachel",
    "Rebecca", "Renée", "Rosa", "Ruth", "Samantha", "Sara", "Shanice", "Sofia", "Sophie",
    "Stephanie", "Sunita", "Tamika", "Teresa", "Valentina", "Vanessa", "Victoria", "Wendy",
    "Ximena", "Yasmin", "Yuki", "Zoë",
)

MALE_FIRST_NAMES = (
    "Aaron", "Abdul", "Adrian", "Ahmed", "Alejandro", "Alexander", "Amir", "Andre", "Andrew",
    "Anthony", "Arjun", "Benjamin", "Brandon", "Bryan", "Caleb", "Carlos", "Chidi", "Christopher",
    "Daniel", "Darnell", "David", "Diego", "Dmitri", "Edward", "Elijah", "Emeka", "Eric",
    "Ethan", "Felipe", "Francisco", "Gabriel", "George", "Hassan", "Hiroshi", "Ibrahim",
    "Isaac", "Jacob", "Jamal", "James", "Javier", "Jin", "John", "Jonathan", "Jorge", "José",
    "Joseph", "Joshua", "Juan", "Kenji", "Kevin", "Kwame", "Liam", "Lucas", "Luis", "Malik",
    "Marcus", "Mark", "Mateo", "Matthew", "Michael", "Miguel", "Min-jun", "Mohammed", "Nathan",
    "Nikhil", "Noah", "Olumide", "Omar", "Owen", "Patrick", "Paul", "Pedro", "Rafael", "Rahul",
    "Raj", "Ricardo", "Robert", "Ryan", "Samuel", "Santiago", "Sean", "Stefan", "Steven",
    "Tariq", "Terrence", "Thomas", "Timothy", "Tomás", "Tyrone", "Vikram", "Wei", "William",
    "Xavier", "Yusuf", "Zachary",
)

# Adults are sometimes known by a short form; the patient page shows it in quotes.
NICKNAMES = {
    "Alexander": "Alex", "Benjamin": "Ben", "Christopher": "Chris", "Daniel": "Dan",
    "Deborah": "Debbie", "Edward": "Ed", "Elizabeth": "Liz", "Jennifer": "Jen",
    "Jonathan": "Jon", "Joseph": "Joe", "Katherine": "Kate", "Kimberly": "Kim",
    "Margaret": "Maggie", "Matthew": "Matt", "Michael": "Mike", "Nathan": "Nate",
    "Patricia": "Trish", "Rebecca": "Becky", "Robert": "Bob", "Samantha": "Sam",
    "Samuel": "Sam", "Stephanie": "Steph", "Thomas": "Tom", "Timothy": "Tim",
    "Victoria": "Vicky", "William": "Bill", "Zachary": "Zach",
}

LAST_NAMES = (
    "Abbott", "Acosta", "Adeyemi", "Agarwal", "Ahmed", "Alvarez", "Anderson", "Andersson",
    "Bailey", "Baker", "Banerjee", "Bennett", "Bianchi", "Brooks", "Brown", "Bui", "Campbell",
    "Carter", "Castillo", "Chang", "Chaudhry", "Chen", "Cho", "Clark", "Collins", "Cooper",
    "Cruz", "Dang", "Davies", "Davis", "Delgado", "Diaz", "Dubois", "Edwards", "Eze", "Fischer",
    "Flores", "Foster", "Garcia", "Goldberg", "Gomez", "Gonzalez", "Green", "Gupta", "Hall",
    "Harris", "Hashemi", "Hayes", "Hernandez", "Hill", "Hoang", "Hughes", "Ibrahim", "Ito",
    "Iyer", "Jackson", "Jensen", "Johnson", "Jones", "Kaur", "Khan", "Kim", "King", "Kowalski",
    "Kumar", "Larsen", "Lewis", "Li", "Liu", "Lopez", "Martin", "Martinez", "Mendoza", "Miller",
    "Mitchell", "Moore", "Morales", "Morris", "Müller", "Murphy", "Nakamura", "Nelson",
    "Nguyen", "Novak", "Nwosu", "O'Brien", "O'Connor", "Okafor", "Olsen", "Ortiz", "Owusu",
    "Park", "Patel", "Perez", "Peterson", "Petrov", "Phillips", "Pham", "Powell", "Price",
    "Quinn", "Ramirez", "Ramos", "Reddy", "Reed", "Reyes", "Richardson", "Rivera", "Roberts",
    "Robinson", "Rodriguez", "Romero", "Rossi", "Russo", "Saito", "Sanchez", "Santos",
    "Schmidt", "Scott", "Shah", "Silva", "Singh", "Smith", "Sokolov", "Sullivan", "Suzuki",
    "Tanaka", "Taylor", "Thomas", "Thompson", "Torres", "Tran", "Turner", "Vargas", "Vasquez",
    "Wagner", "Walker", "Wang", "Ward", "Washington", "Watson", "White", "Williams", "Wilson",
    "Wong", "Wright", "Wu", "Yamamoto", "Yang", "Young", "Zhang", "Zielinski",
)

# fmt: on

# (city, first three ZIP digits, area codes) by practice time zone. Numbers are generated
# in the 555-0100..555-0199 range the North American plan keeps for fiction, under area
# codes that ``phonenumbers`` accepts as valid.
CITIES_BY_ZONE = {
    "America/New_York": (
        ("Hartford", "061", ("860", "959")),
        ("Albany", "122", ("518",)),
        ("Burlington", "054", ("802",)),
        ("Portland", "041", ("207",)),
        ("Providence", "029", ("401",)),
        ("Worcester", "016", ("508", "774")),
        ("Richmond", "232", ("804",)),
        ("Raleigh", "276", ("919", "984")),
        ("Charlotte", "282", ("704", "980")),
        ("Atlanta", "303", ("404", "678", "470")),
        ("Columbus", "432", ("614", "380")),
        ("Pittsburgh", "152", ("412", "878")),
        ("Baltimore", "212", ("410", "443")),
        ("Tampa", "336", ("813",)),
        ("Orlando", "328", ("407", "689")),
        ("Buffalo", "142", ("716",)),
        ("Rochester", "146", ("585",)),
        ("Ann Arbor", "481", ("734",)),
        ("Louisville", "402", ("502",)),
        ("Indianapolis", "462", ("317", "463")),
    ),
    "America/Chicago": (
        ("Madison", "537", ("608",)),
        ("Milwaukee", "532", ("414",)),
        ("Minneapolis", "554", ("612",)),
        ("Des Moines", "503", ("515",)),
        ("Omaha", "681", ("402", "531")),
        ("Kansas City", "641", ("816",)),
        ("St. Louis", "631", ("314",)),
        ("Nashville", "372", ("615", "629")),
        ("Memphis", "381", ("901",)),
        ("Austin", "787", ("512", "737")),
        ("San Antonio", "782", ("210", "726")),
        ("Dallas", "752", ("214", "469", "972")),
        ("Houston", "770", ("713", "281", "832")),
        ("Tulsa", "741", ("918",)),
        ("Little Rock", "722", ("501",)),
        ("New Orleans", "701", ("504",)),
        ("Naperville", "605", ("630", "331")),
        ("Evanston", "602", ("847", "224")),
    ),
    "America/Denver": (
        ("Denver", "802", ("303", "720")),
        ("Boulder", "803", ("303", "720")),
        ("Colorado Springs", "809", ("719",)),
        ("Fort Collins", "805", ("970",)),
        ("Salt Lake City", "841", ("801", "385")),
        ("Provo", "846", ("801", "385")),
        ("Boise", "837", ("208", "986")),
        ("Albuquerque", "871", ("505",)),
        ("Santa Fe", "875", ("505",)),
        ("Billings", "591", ("406",)),
        ("Cheyenne", "820", ("307",)),
    ),
    "America/Phoenix": (
        ("Phoenix", "850", ("602", "623")),
        ("Tempe", "852", ("480",)),
        ("Mesa", "852", ("480",)),
        ("Scottsdale", "852", ("480",)),
        ("Tucson", "857", ("520",)),
        ("Flagstaff", "860", ("928",)),
    ),
    "America/Los_Angeles": (
        ("Portland", "972", ("503", "971")),
        ("Eugene", "974", ("541",)),
        ("Seattle", "981", ("206",)),
        ("Tacoma", "984", ("253",)),
        ("Spokane", "992", ("509",)),
        ("Sacramento", "958", ("916", "279")),
        ("San Jose", "951", ("408", "669")),
        ("Oakland", "946", ("510", "341")),
        ("Fresno", "937", ("559",)),
        ("San Diego", "921", ("619", "858")),
        ("Pasadena", "911", ("626",)),
        ("Long Beach", "908", ("562",)),
        ("Reno", "895", ("775",)),
        ("Las Vegas", "891", ("702", "725")),
        ("Santa Barbara", "931", ("805",)),
    ),
}

# Share of practices per zone: most people live in the Eastern and Central zones.
ZONE_WEIGHTS = {
    "America/New_York": 40,
    "America/Chicago": 27,
    "America/Denver": 9,
    "America/Phoenix": 5,
    "America/Los_Angeles": 19,
}

# fmt: off
STREET_NAMES = (
    "Maple", "Oak", "Cedar", "Pine", "Elm", "Birch", "Willow", "Chestnut", "Walnut", "Aspen",
    "Magnolia", "Juniper", "Spruce", "Hickory", "Sycamore", "Main", "Church", "Mill", "Park",
    "Lake", "River", "Hill", "Ridge", "Meadow", "Spring", "Sunset", "Highland", "Valley",
    "Forest", "Orchard", "Harbor", "Bay", "Prospect", "Franklin", "Washington", "Lincoln",
    "Jefferson", "Madison", "Jackson", "Adams", "Monroe", "Grant", "Union", "Liberty",
    "Center", "Market", "Broad", "Water", "Front", "Bridge", "School", "College", "Academy",
    "Garden", "Vine", "Laurel", "Holly", "Dogwood", "Poplar", "Sequoia",
)
STREET_SUFFIXES = ("St", "Ave", "Rd", "Ln", "Dr", "Ct", "Blvd", "Way", "Pl", "Ter")

PRACTICE_NAME_PATTERNS = (
    "{street} Street Dental",
    "{city} Family Dentistry",
    "{street} Dental Care",
    "{city} Smile Studio",
    "{street} Avenue Dental",
    "Dental Arts of {city}",
    "{city} Dental Group",
    "{street} Park Dentistry",
)

ORGANISATION_NAMES = (
    "Summit Dental Partners", "Coastal Smiles Group", "Evergreen Dental Alliance",
    "Northstar Dental Group", "Heartland Family Dental", "Bluewater Dental Partners",
    "Pinecrest Dental Group", "Lakeside Dental Collective", "Redwood Dental Partners",
    "Prairie Smiles Group",
)

REFERRAL_SOURCES = (
    ("Google", 30), ("Insurance directory", 22), ("Friend", 16), ("Drove by", 7),
    ("Moved to the area", 8), ("Yelp", 6), ("Employer dental plan", 5), ("Facebook", 3),
    ("Instagram", 2), ("Another dentist", 1),
)
# fmt: on

# Relationship profile: short phrases a front desk or clinician would write down.
GOALS = (
    "Keep my natural teeth as long as possible.",
    "A brighter smile before my daughter's wedding.",
    "Stop the bleeding when I brush.",
    "Get through a cleaning without pain.",
    "Fix the chipped front tooth so I stop hiding my smile.",
    "Fewer visits; I travel a lot for work.",
    "Straighter teeth without metal braces.",
    "Understand the options before deciding anything.",
    "Keep the kids cavity-free.",
    "Replace the missing molar so I can chew on both sides.",
    "Stay ahead of problems; my parents lost their teeth early.",
    "Stop grinding at night.",
)
CONCERNS = (
    "Cost surprises after treatment.",
    "Needles.",
    "Being judged for not flossing.",
    "Losing more teeth like my father did.",
    "Long waits in the waiting room.",
    "Insurance not covering what I was told it would.",
    "The sound of the drill.",
    "Sensitivity to cold since the last filling.",
    "Taking time off work for appointments.",
    "Whether the old fillings need replacing.",
)
EXPERIENCES = (
    "Previous dentist rushed every visit and never explained anything.",
    "Had a painful extraction as a teenager; still thinks about it.",
    "Very happy with the hygienist here; asks for her by name.",
    "Was billed twice by a former practice; wants itemised statements.",
    "A crown elsewhere failed after two years.",
    "First dentist in ten years; embarrassed about the gap.",
    "Moved from out of state; records transferred from the previous practice.",
    "Had braces as a child and is proud of the result.",
    "A former dentist lectured her about sugar in front of her kids.",
    "Good experience with sedation for wisdom teeth.",
)
PREFERENCES = (
    "Early morning appointments, before work.",
    "Text reminders only, no calls.",
    "Likes to hear each step before it happens.",
    "Prefers late afternoon slots after school.",
    "Wants the same hygienist every time.",
    "Headphones and music during treatment.",
    "Pays in full at checkout; prefers no payment plans.",
    "Bring the estimate in writing before any treatment.",
    "Spanish-speaking staff when possible.",
    "Needs ground-floor access; uses a cane.",
)
ANXIETIES = (
    "Strong gag reflex; x-rays are hard.",
    "Needle phobia; numbing gel first, please.",
    "Anxious about the drill noise.",
    "Claustrophobic with the bib and light close.",
    "Panics if she can't breathe through her nose.",
    "Dental anxiety since childhood; agree a stop signal.",
    "Sensitive teeth; warm water for rinsing.",
    "Jaw pain if the mouth stays open long; short breaks.",
)
TRUST_NOTES = (
    "Trusts Dr. {dentist} completely; follows every recommendation.",
    "Skeptical of upselling; explain why before suggesting anything extra.",
    "Values honesty over comfort: wants to hear bad news straight.",
    "Was hesitant at first; relaxed after the second visit.",
    "Checks reviews carefully; wrote a kind one last year.",
    "Brought the whole family after a good first experience.",
)
