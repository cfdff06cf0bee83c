"""Where the app publishes its FHIR resources (content/fhir.yaml)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from tailoring.model.base import Strict


class FhirPublication(Strict):
    """The canonical base of our Questionnaires, code systems and extensions; their publisher."""

    canonical_base: str = Field(
        max_length=200,
        description="An absolute http(s) URL on the service's own domain, e.g. "
        "https://fhir.example-clinic.nhs.uk/tailoring; Questionnaires live at "
        "<base>/Questionnaire/<name>.",
    )
    publisher: str = Field(
        min_length=1, max_length=200, description="The publisher named on every Questionnaire."
    )

    @field_validator("canonical_base")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an absolute http(s) URL")
        if parts.query or parts.fragment or "#" in value or "?" in value:
            raise ValueError(f"{value!r}: a canonical base takes no query or fragment")
        if value.endswith("/"):
            raise ValueError(f"{value!r}: leave out the trailing '/'")
        if any(c.isspace() or c == "|" for c in value):
            raise ValueError(f"{value!r}: no spaces and no '|' (it separates url and version)")
        return value
