"""Paraphrased queries for the OCR search evaluation: each English word of a rendered phrase replaced by a
word of similar meaning that is not in the phrase vocabulary (``build_eval.WORDS_EN``) and shares no stem
with the original, so BM25 over the OCR text cannot match it and only the text model's sense of meaning can.

``paraphrase(phrase)`` → (query, every word replaced?). Words without an entry here are kept as they are.
"""

from __future__ import annotations

SYNONYMS = {
    "harbour": "port", "street": "boulevard", "bakery": "patisserie", "garden": "yard", "museum": "exhibition",
    "station": "terminal", "market": "bazaar", "river": "stream", "bridge": "overpass", "castle": "fortress",
    "coffee": "espresso", "summer": "july", "winter": "december", "autumn": "fall", "spring": "april",
    "festival": "carnival", "concert": "gig", "library": "reading room", "school": "academy",
    "hospital": "clinic", "airport": "airfield", "hotel": "inn", "theatre": "playhouse", "cinema": "movies",
    "stadium": "arena", "park": "playground", "beach": "seaside", "mountain": "peak", "island": "isle",
    "village": "hamlet", "city": "town", "central": "downtown", "old": "ancient", "new": "brand",
    "royal": "regal", "grand": "majestic", "little": "tiny", "golden": "gilded", "green": "emerald",
    "blue": "azure", "red": "crimson", "black": "ebony", "white": "ivory", "yellow": "lemon",
    "purple": "violet", "daily": "everyday", "night": "midnight", "morning": "dawn", "evening": "dusk",
    "sale": "discount", "closed": "shut", "welcome": "greetings", "exit": "way out", "entrance": "way in",
    "parking": "garage", "ticket": "admission", "office": "bureau", "pharmacy": "drugstore", "bank": "lender",
    "post": "mail", "police": "cops", "fire": "blaze", "emergency": "urgent", "danger": "hazard",
    "caution": "warning", "stop": "halt", "quiet": "silence", "private": "personal", "public": "communal",
    "toilet": "restroom", "kitchen": "galley", "pasta": "spaghetti", "bread": "loaf", "cheese": "cheddar",
    "wine": "vino", "beer": "lager", "juice": "smoothie", "fruit": "apples", "flower": "blossom",
    "book": "paperback", "music": "songs", "dance": "ballet", "art": "painting", "photo": "picture",
    "gallery": "showroom", "science": "research", "history": "heritage", "nature": "wildlife",
    "ocean": "sea", "forest": "woods", "lake": "pond", "valley": "dale", "desert": "dunes", "road": "highway",
    "avenue": "parkway", "lane": "alley", "square": "plaza", "tower": "skyscraper", "gate": "portal",
    "hall": "auditorium", "house": "dwelling", "home": "residence", "farm": "ranch", "shop": "boutique",
    "store": "outlet", "center": "hub", "club": "society", "team": "squad", "world": "global",
    "national": "nationwide", "family": "relatives", "friends": "buddies", "happy": "joyful",
    "lucky": "fortunate", "magic": "wizardry", "simple": "easy", "modern": "contemporary",
    "classic": "traditional", "vintage": "retro", "premium": "luxury", "local": "neighbourhood",
    "quality": "excellence", "service": "assistance", "repair": "fix", "rental": "hire",
    "tours": "excursions", "travel": "journey", "express": "rapid", "union": "alliance", "diamond": "gem",
    "falcon": "hawk", "eagle": "raptor", "phoenix": "firebird", "lotus": "waterlily",
}


def paraphrase(phrase: str) -> tuple[str, bool]:
    words = phrase.lower().split()
    replaced = [SYNONYMS.get(word, word) for word in words]
    return " ".join(replaced), all(word in SYNONYMS for word in words)
