"""The SPRAVATO REMS patient monitoring form as a printable PDF, filled from the session record,
and the record of its submission (due by, submitted on, by whom).

Fields are those of the form (clinical-rules.md 4a: patient, first treatment, concomitant
medications, monitoring provider and setting, treatment date, dose, lot number, total minutes
from the first device to the end of monitoring, minutes until ready to leave without the 2-h
rule, vitals acceptable before and at the end, BP at the three checkpoints, sedation,
dissociation, respiratory depression, serious adverse events), answered by
:func:`sessions.rems_form`. The text is set in DejaVu Sans (the TTF shipped in matplotlib's
mpl-data), embedded, so the PDF prints the same anywhere. This is the clinic's copy for filing:
submission itself happens in the REMS portal.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import TreatmentPlan, TreatmentSession, User
from ketasim.clinic.services import sessions as se
from ketasim.clinic.services.base import Actor, Conflict, get_or_404, log

__all__ = ["FORM_ROWS", "font_path", "mark_submitted", "rems_pdf"]

#: (form question, key of sessions.rems_form)
FORM_ROWS: tuple[tuple[str, str], ...] = (
    ("Patient name", "patient_name"),
    ("Medical record number", "patient_mrn"),
    ("First treatment (enrolment)", "first_treatment"),
    ("Concomitant medications", "concomitant_medications"),
    ("Monitoring healthcare provider", "monitoring_provider"),
    ("Treatment setting", "setting"),
    ("Treatment date", "treatment_date"),
    ("Dose (mg)", "dose_mg"),
    ("Lot number", "lot_number"),
    ("Total minutes, first device to end of monitoring", "monitoring_minutes"),
    ("Ready to leave without the 2-hour rule (min)", "ready_to_leave_min"),
    ("Vital signs acceptable before administration", "vitals_acceptable_before"),
    ("Vital signs acceptable before completion of monitoring", "vitals_acceptable_end"),
    ("Blood pressure before dosing (mmHg)", "bp_pre_dose"),
    ("Blood pressure at about 40 minutes (mmHg)", "bp_40_min"),
    ("Blood pressure before discharge (mmHg)", "bp_pre_discharge"),
    ("Sedation observed", "sedation_observed"),
    ("Dissociation observed", "dissociation_observed"),
    ("Respiratory depression observed", "respiratory_depression_observed"),
    ("Serious adverse event", "serious_adverse_event"),
)


def font_path(style: str = "") -> Path:
    """DejaVu Sans (``style`` "B": bold) from matplotlib's mpl-data (a ketasim dependency)."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if style == "B" else "DejaVuSans.ttf"
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


def _answer(value: object) -> str:
    if value is None:
        return "MISSING"
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def rems_pdf(session: Session, session_id: int) -> bytes:
    """The filled form of one session as PDF bytes."""
    from fpdf import FPDF

    s = get_or_404(session, TreatmentSession, session_id, "session")
    form = se.rems_form(session, s)
    missing = se.missing_fields(session, s)
    submitter = None if s.rems_submitted_by is None else session.get(User, s.rems_submitted_by)
    pdf = FPDF(format="A4")
    pdf.set_title("SPRAVATO REMS patient monitoring form")
    pdf.set_creator("ketasim clinic")
    pdf.add_font("DejaVu", "", str(font_path()))
    pdf.add_font("DejaVu", "B", str(font_path("B")))
    pdf.add_page()
    pdf.set_font("DejaVu", size=15)
    pdf.cell(0, 9, "SPRAVATO REMS patient monitoring form", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)
    pdf.multi_cell(
        0,
        5,
        f"Session {s.number} (id {s.id}); filled from the clinic record on "
        f"{clinic_now(session).isoformat(timespec='minutes')} UTC. Due by {form['due_by']}. "
        "Clinic copy: submit in the REMS portal.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    pdf.set_font("DejaVu", size=10.5)
    with pdf.table(
        col_widths=(62, 38),
        text_align=("LEFT", "LEFT"),
        line_height=6.5,
        first_row_as_headings=True,
    ) as table:
        head = table.row()
        head.cell("Question")
        head.cell("Answer")
        for label, key in FORM_ROWS:
            row = table.row()
            row.cell(label)
            row.cell(_answer(form.get(key)))
    pdf.ln(4)
    aes = form.get("adverse_events")
    if isinstance(aes, list) and aes:
        pdf.multi_cell(
            0,
            6,
            "Adverse events: "
            + "; ".join(
                f"{a['category']} ({a['severity']}{', serious' if a['serious'] else ''}): "
                f"{a['description']}"
                for a in aes
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    status = (
        ("Missing before signature: " + ", ".join(missing))
        if missing
        else "Complete: every field answered."
    )
    pdf.multi_cell(0, 6, status, new_x="LMARGIN", new_y="NEXT")
    if s.rems_submitted_at is not None:
        who = submitter.full_name if submitter is not None else f"user {s.rems_submitted_by}"
        pdf.multi_cell(
            0,
            6,
            f"Submitted on {s.rems_submitted_at.isoformat(timespec='minutes')} UTC by {who}.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(8)
    pdf.cell(0, 6, "Monitoring provider signature: ______________________    Date: __________")
    return bytes(pdf.output())


def mark_submitted(session: Session, actor: Actor, session_id: int) -> TreatmentSession:
    """Record that the session's REMS form was submitted (complete forms of esketamine sessions
    only, once)."""
    s = get_or_404(session, TreatmentSession, session_id, "session")
    plan = get_or_404(session, TreatmentPlan, s.plan_id, "plan")
    if plan.drug != "esketamine":
        raise Conflict("the REMS monitoring form is for esketamine (SPRAVATO) sessions")
    if s.rems_submitted_at is not None:
        raise Conflict(
            f"the REMS form of session {session_id} was recorded as submitted "
            f"on {s.rems_submitted_at.isoformat(timespec='minutes')}"
        )
    if s.status not in ("discharged", "signed"):
        raise Conflict(f"session {session_id} is {s.status}; the form follows discharge")
    missing = se.missing_fields(session, s)
    if missing:
        raise Conflict(
            "the form is incomplete: missing " + ", ".join(missing), extra={"missing": missing}
        )
    before = audit.snapshot(s)
    s.rems_submitted_at, s.rems_submitted_by = clinic_now(session), actor.id
    log(session, actor, "rems-submitted", s, before)
    return s
