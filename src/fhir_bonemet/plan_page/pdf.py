"""The handout as a PDF (fpdf2, pure Python, no system libraries): A4 or US Letter, large type."""

from __future__ import annotations

from typing import Literal

from fpdf import FPDF

from fhir_bonemet.plan_page.handout import handout_content
from fhir_bonemet.plan_page.view import PlanView

__all__ = ["PaperSize", "handout_pdf"]

PaperSize = Literal["A4", "Letter"]
_BODY_PT = 13
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The PDF core fonts speak Latin-1; the few typographic characters of the wording get ASCII stand-ins.
_LATIN1 = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "·": "-"})


def _text(value: str) -> str:
    return value.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")


class _Handout(FPDF):
    def heading(self, text: str) -> None:
        self.ln(2)
        self.set_font("Helvetica", "B", _BODY_PT + 4)
        self.multi_cell(0, 8, _text(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", _BODY_PT)

    def bullet(self, bold: str, rest: str = "") -> None:
        self.set_x(self.l_margin)
        self.cell(6, 7, "-")
        line = f"**{_text(bold)}** {_text(rest)}" if bold else _text(rest)
        self.multi_cell(0, 7, line, markdown=True, new_x="LMARGIN", new_y="NEXT")


def handout_pdf(view: PlanView, paper: PaperSize = "A4") -> bytes:
    content = handout_content(view)
    pdf = _Handout(format=paper)
    pdf.set_title("My exercise and pain plan")
    pdf.set_margins(16, 14, 16)
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", _BODY_PT + 9)
    pdf.cell(0, 12, "My exercise and pain plan", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", _BODY_PT)
    pdf.multi_cell(0, 7, _text(content.intro), new_x="LMARGIN", new_y="NEXT")
    pdf.heading("What I can do")
    for activity, how in content.allowed or (("", "Only what your team tells you."),):
        pdf.bullet(f"{activity}." if activity else "", how)
    pdf.heading("What to avoid, and why")
    for activity, why in content.avoid or (("", "Nothing extra for now."),):
        pdf.bullet(f"{activity}." if activity else "", why)
    pdf.heading("Stop and call if you have")
    for sign in content.stop_signs:
        pdf.bullet("", sign)
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", _BODY_PT + 1)
    pdf.cell(0, 9, "Number to call: ________________________________", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", _BODY_PT)
    pdf.multi_cell(0, 7, _text(content.next_check), new_x="LMARGIN", new_y="NEXT")
    pdf.heading("My week: pain and exercise")
    label_w = 46
    day_w = (pdf.epw - label_w) / len(_DAYS)
    pdf.set_font("Helvetica", "B", _BODY_PT - 1)
    pdf.cell(label_w, 9, "", border=1)
    for day in _DAYS:
        pdf.cell(day_w, 9, day, border=1, align="C")
    pdf.ln()
    pdf.set_font("Helvetica", "", _BODY_PT - 1)
    for label in ("Pain (0 to 10)", "Exercise done", "Notes"):
        pdf.cell(label_w, 14, label, border=1)
        for _ in _DAYS:
            pdf.cell(day_w, 14, "", border=1)
        pdf.ln()
    return bytes(pdf.output())
