"""Which codec reads a part's bytes: the label widened to what mail software really sends
(GB2312 means GBK, so GB18030), ISO-2022-JP recognised by its escape sequences when unlabelled,
and guesses kept only when their text is plausible for the configured languages."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from charset_normalizer import from_bytes

from services.intake.mail.plausible import allowed_scripts, plausible

# Labels whose real-world text uses the superset: Windows and GB18030 extend these charsets,
# and decoding with the superset never changes what the label's own characters mean.
_WIDER = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
    "iso2022_jp": "iso2022_jp_2",
    "iso8859_11": "cp874",
}
_CJK = frozenset(
    {"gb18030", "gbk", "gb2312", "hz", "big5", "big5hkscs", "cp950", "cp932", "cp949", "johab"}
    | {"euc_jp", "euc_jis_2004", "euc_jisx0213", "shift_jis", "shift_jis_2004", "euc_kr"}
    | {"iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_3", "iso2022_jp_ext"}
    | {"iso2022_jp_2004", "iso2022_kr"}
)
# JIS X 0208 / 0212, JIS-Roman, half-width katakana, KS X 1001 designations.
_ISO2022 = re.compile(rb"\x1b(?:\$[@B]|\$\(D|\(J|\(I|\$\)C|\$\(C)")
# Legacy charsets of each script, tried when the detector's guesses all read as nonsense.
_LEGACY = {
    "latin": ("cp1252",),
    "cyrillic": ("cp1251", "koi8_r", "iso8859_5"),
    "greek": ("cp1253", "iso8859_7"),
    "arabic": ("cp1256", "iso8859_6"),
    "cjk": ("gb18030", "cp932", "euc_jp", "cp949", "big5hkscs"),
}
DETECT_LIMIT = 64 * 1024  # bytes a guess reads: enough to tell, bounded in time
_DETECTIONS = 8  # detector runs per message; more parts than that get the cheap candidates


def known(label: str | None) -> str | None:
    """The Python codec of a charset label, widened to its superset; None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip('"').lower()).name
    except (LookupError, ValueError, TypeError):
        return None
    return _WIDER.get(name.replace("-", "_"), name)


def charset_name(codec: str) -> str:
    """The name mail clients write for a Python codec (cp1256 -> windows-1256)."""
    name = codecs.lookup(codec).name
    if re.fullmatch(r"cp125\d", name):
        return "windows-" + name[2:]
    if name.startswith("iso8859-"):
        return "iso-8859-" + name[8:]
    if name.startswith("iso2022"):
        return "iso-2022" + name[7:].replace("_", "-")
    if name.startswith("euc"):
        return name.replace("_", "-")
    return {"ascii": "us-ascii", "mac-cyrillic": "x-mac-cyrillic"}.get(name, name)


def iso2022(payload: bytes) -> str | None:
    """ISO-2022-JP/KR recognised by escape sequences in 7-bit bytes, however it is labelled."""
    sample = payload[:DETECT_LIMIT]
    if not sample.isascii() or _ISO2022.search(sample) is None:
        return None
    return "iso2022_kr" if b"\x1b$)C" in sample else "iso2022_jp_2"


def is_cjk(codec: str | None) -> bool:
    return codec is not None and codec.replace("-", "_") in _CJK


def prefix_decodes(payload: bytes, codec: str) -> str | None:
    """The first DETECT_LIMIT bytes decoded strictly (a character cut at the end is fine)."""
    try:
        return codecs.getincrementaldecoder(codec)().decode(payload[:DETECT_LIMIT], final=False)
    except (UnicodeDecodeError, LookupError):
        return None


@dataclass
class Charsets:
    """Guessing for one message: its languages, the charset it declares for its text (which
    raw 8-bit headers are tried in first), how many detector runs it has left, what it decoded."""

    languages: tuple[str, ...] = ("en", "fa", "ru", "el")
    header_charset: str | None = None
    detections: int = field(default=_DETECTIONS)
    # Header values already decoded, by raw value: the automatic-mail checks and the parsed
    # mail read the same headers, and a guess on 8-bit bytes is the costly part.
    decoded: dict[str, str] = field(default_factory=dict)

    def _detected(self, payload: bytes, scripts: frozenset[str]) -> Iterator[str]:
        """The detector's ranking among the scripts' charsets, while the budget lasts."""
        if self.detections <= 0:
            return
        self.detections -= 1
        isolation = ["utf_8", *(c for script in sorted(scripts) for c in _LEGACY[script])]
        for match in from_bytes(payload[:DETECT_LIMIT], cp_isolation=isolation):
            codec = known(match.encoding)
            if codec is not None:
                yield codec

    def _candidates(self, payload: bytes, scripts: frozenset[str]) -> Iterator[str]:
        yield "utf-8"
        escaped = iso2022(payload)
        if escaped is not None:
            yield escaped
        yield from self._detected(payload, scripts)
        for script in ("cyrillic", "arabic", "greek", "latin", "cjk"):
            if script in scripts:
                yield from _LEGACY[script]

    def guesses(self, payload: bytes, declared: str | None) -> Iterator[str]:
        """Codecs to try when the label failed, best first, each reading the start plausibly.

        Lazy: the detector runs only when UTF-8 and ISO-2022 do not fit.
        """
        scripts = allowed_scripts(self.languages, cjk=is_cjk(declared) or bool(iso2022(payload)))
        seen = {declared}
        for codec in self._candidates(payload, scripts):
            codec = known(codec) or codec
            if codec in seen:
                continue
            seen.add(codec)
            text = prefix_decodes(payload, codec)
            if text is not None and plausible(text, scripts):
                yield codec
