"""Identifiers (NHS numbers, emails, ...) found in free text before it is saved."""

from __future__ import annotations

from tailoring.engine.identifiers import FoundIdentifier, find_identifiers, redact

IDENTIFIER_WORDS = {
    "nhs_number": "an NHS number",
    "email": "an email address",
    "phone": "a phone number",
    "postcode": "a postcode",
    "date_of_birth": "a date that may be a date of birth",
}


class IdentifiersFound(ValueError):
    """Free text that seems to hold identifiers: nothing was saved.

    ``texts`` are the fields as given and ``found`` what was found in each. The message names
    the kinds only, never the text, so it is safe to show and to log.
    """

    def __init__(self, texts: dict[str, str], found: dict[str, list[FoundIdentifier]]) -> None:
        self.texts = texts
        self.found = found
        kinds = sorted({IDENTIFIER_WORDS[f.kind] for items in found.values() for f in items})
        listed = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]
        super().__init__(
            f"This text seems to contain {listed}. Records here must not identify anyone: "
            "remove it, or save as written if it is not an identifier."
        )

    def redacted(self) -> dict[str, str]:
        """Every field with what was found replaced by a label such as [NHS number removed]."""
        return {
            field: redact(text, self.found[field]) if field in self.found else text
            for field, text in self.texts.items()
        }


def check_identifiers(texts: dict[str, str]) -> None:
    """IdentifiersFound if any of the texts seems to hold an identifier."""
    found = {field: items for field, text in texts.items() if (items := find_identifiers(text))}
    if found:
        raise IdentifiersFound(texts, found)
