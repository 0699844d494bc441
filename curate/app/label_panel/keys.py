"""The panel's keys, written once: the buttons, the help overlay (both drawn by panel.js from
`for_panel()`), and the caption beside the panel on the Label and Review pages (`caption()`).

Each key names the action panel.js runs for it (`act`: what `keyName()` in panel.js turns a
keyboard event into) and the modes it works in. The rule keys 1–3 and the tag keys 4–7 come
from the rules in code (curate/rules.py), so adding a tag adds its key everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

from curate.rules import RULES, TAGS

LABEL, REVIEW = "label", "review"
BOTH = (LABEL, REVIEW)


@dataclass(frozen=True)
class Key:
    act: str  # the action panel.js runs ("a", "1", "backspace", "left", "?", …)
    shown: str  # the key as printed on its button and in the help ("A", "⌫", "←")
    does: str  # what it does, in the help and the caption
    button: str  # the button's label ("" for none)
    modes: tuple[str, ...] = BOTH
    group: str = "nav"  # decide | tag | nav: how the buttons are laid out


def table() -> list[Key]:
    """Every key of the panel, in the order the buttons and the help list them."""
    keys = [Key("a", "A", "accept (with the tags toggled on)", "Accept", group="decide")]
    keys += [Key(str(k + 1), str(k + 1), f"reject: {r.short}", f"Reject: {r.short}",
                 group="decide") for k, r in enumerate(RULES)]
    keys += [Key(str(k + 4), str(k + 4), f"toggle the tag {t.short}", f"tag: {t.short}",
                 group="tag") for k, t in enumerate(TAGS)]
    keys += [
        Key("s", "S", "skip (listed under Skipped)", "Skip", (LABEL,), "decide"),
        Key("backspace", "⌫", "undo your last decision and go back to it", "Undo last decision",
            (LABEL,), "decide"),
        Key("backspace", "⌫", "undo your last verdict (the image is open again)",
            "Undo last verdict", (REVIEW,), "decide"),
        Key("left", "←", "previous image", "Prev"),
        Key("right", "→", "next image", "Next"),
        Key("n", "N", "a one-line note, saved with your next decision here", "Note"),
        Key("z", "Z", "enlarge the image to fill the panel; Z again: 1:1 pixels; again: fit",
            "Zoom"),
        Key("f", "F", "first image not decided yet", "First undecided", (LABEL,)),
        Key("f", "F", "first open disagreement", "First open", (REVIEW,)),
        Key("g", "G", "go to image #N", "Go to #"),
        Key("j", "J", "next skipped image", "", (LABEL,)),
        Key("k", "K", "the list of skipped images", "Skipped", (LABEL,)),
        Key("v", "V", "grid: a page of likely accepts; a tile's key marks it not accepted, "
            "Enter accepts the rest, Esc leaves", "Grid", (LABEL,)),
        Key("?", "?", "these keys", "Help"),
        Key("esc", "Esc", "close what is open (help, skipped list, note)", ""),
    ]
    return keys


def for_panel(mode: str) -> list[dict]:
    """The keys of `mode` as the panel's data (`keys` in the reply, see protocol.py)."""
    return [dict(act=k.act, shown=k.shown, does=k.does, button=k.button, group=k.group)
            for k in table() if mode in k.modes]


def caption(mode: str) -> str:
    """One markdown line naming every key of `mode`, for beside the panel."""
    parts, seen = [], set()
    for k in table():
        if mode not in k.modes or k.act in seen:
            continue
        seen.add(k.act)
        parts.append(f"**{k.shown}** {k.does}")
    return "Keys: " + " · ".join(parts)
