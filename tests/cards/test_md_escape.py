"""md_escape looks for the Markdown characters with one substring test each before substituting: the text
comes out as the substitution alone would make it, whatever it holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fhir_bonemet.cards.detail import _MD_SPECIAL, md_escape


@given(st.text(alphabet=st.sampled_from("ab \\`*_[]<|~>#\t\n…é"), max_size=30) | st.text(max_size=30))
def test_escapes_as_the_substitution_does(text: str) -> None:
    spaced = " ".join(text.split())
    assert md_escape(text) == _MD_SPECIAL.sub(r"\\\1", spaced)


def test_every_special_character_is_escaped() -> None:
    assert md_escape("a_b *c* [d](e) <f> g|h ~i~ `j` \\k") == (
        "a\\_b \\*c\\* \\[d\\](e) \\<f> g\\|h \\~i\\~ \\`j\\` \\\\k"
    )
