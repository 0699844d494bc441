"""The annotation rules of the seed write-up, as data: shown beside each image in the app.

An image joins old_celebA when all three RULES hold. A rejection records the key of the rule
that failed. TAGS are tolerated traits: recorded, never a reason to reject.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: int
    key: str  # stored in decisions.rule on a rejection
    short: str  # what a rejection under this rule means, in a few words
    text_en: str
    text_es: str  # the seed write-up's original wording


@dataclass(frozen=True)
class Tag:
    key: str  # stored in decisions.tags
    short: str
    text_en: str
    text_es: str


RULES: tuple[Rule, ...] = (
    Rule(1, "too_young", "too young",
         "The person is judged to be older than 55.",
         "Si se especula que tienen más de 55 años."),
    Rule(2, "not_facing", "not facing the camera",
         "The face looks at the camera, like an ID photo (a profile only when the person "
         "still looks at the camera — rare).",
         "Si las caras se encuentran mirando hacia la cámara (como la foto de DNI). Se consideró "
         "muy pocas fotos de perfil, donde se veía que la personas a pesar de estar en esa "
         "posición, miraba a la cámara."),
    Rule(3, "looks_young", "looks young (make-up, surgery)",
         "The face shows elderly features, whatever the real age: a person known to be old who "
         "looks young through make-up or surgery is rejected.",
         "Si tienen rasgos de ancianos a pesar de su verdadera edad. Por ejemplo, existen "
         "celebridades (en su gran mayoría mujeres) que usan mucho maquillaje o cirugías para "
         "verse joven, estos casos no se tomaron en cuenta a pesar de que se sabía que eran "
         "personas mayores."),
)

TAGS: tuple[Tag, ...] = (
    Tag("deformity", "deformity",
        "Kept despite deformities in the photo (e.g. a head stretched to the top edge).",
        "A pesar de que exista deformidades en la foto. Por ejemplo, había casos donde la "
        "cabeza se estiraba hasta el extremo superior de la imagen."),
    Tag("text_on_face", "text on face",
        "Kept despite small text over the face.",
        "A pesar de que haya letras (pequeñas) sobre el rostro de la cara de la persona."),
    Tag("covering_accessory", "covering accessory",
        "Kept despite accessories covering much of the face (a hat, the person's own hair).",
        "A pesar de que use accesorios que tapaba gran parte de su rostro. Por ejemplo, un "
        "sombrero, en ocasiones su propio cabello."),
    Tag("two_faces", "two faces",
        "Kept despite two faces in the photo.",
        "A pesar de que haya 2 rostros en la foto."),
)

NO_OTHER_FILTER_EN = "No other trait or accessory is filtered."
NO_OTHER_FILTER_ES = ("Todas las caras que cumplan con las reglas antes descritas, sin filtrar "
                      "algún rasgo o accesorio en particular.")

RULE_KEYS = frozenset(r.key for r in RULES)
TAG_KEYS = frozenset(t.key for t in TAGS)


def rule(key: str) -> Rule:
    for r in RULES:
        if r.key == key:
            return r
    raise KeyError(f"unknown rule {key!r}; known: {', '.join(sorted(RULE_KEYS))}")


def validate(verdict: str, rule_key: str | None, tags: list[str] | tuple[str, ...]) -> None:
    """Raise ValueError when a decision does not fit the rules (reject needs a known rule)."""
    if verdict == "reject" and rule_key not in RULE_KEYS:
        raise ValueError(f"a rejection must name the rule that failed: one of {sorted(RULE_KEYS)}")
    if verdict != "reject" and rule_key is not None:
        raise ValueError("only a rejection names a failed rule")
    unknown = set(tags) - TAG_KEYS
    if unknown:
        raise ValueError(f"unknown tags {sorted(unknown)}; known: {sorted(TAG_KEYS)}")
