"""Typed request (Create/Update) and response (Public) schemas of the REST API, one module per
resource; every schema is importable from here (``from ketasim.clinic.api import schemas``)."""

from __future__ import annotations

from ketasim.clinic.api.schemas.auth import (
    LoginIn,
    LoginOut,
    PasswordChange,
    PasswordReset,
    TotpCode,
    TotpEnrolment,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from ketasim.clinic.api.schemas.common import FindingPublic, RecordModel, RequestModel, UtcTime
from ketasim.clinic.api.schemas.oversight import AlertPublic, AuditEntryPublic, AuditVerifyPublic
from ketasim.clinic.api.schemas.patients import (
    ConsentCreate,
    ConsentDocumentCreate,
    ConsentDocumentPublic,
    ConsentPublic,
    ConsentWithdraw,
    PatientCreate,
    PatientPublic,
    PatientUpdate,
)
from ketasim.clinic.api.schemas.plans import (
    PlanCreate,
    PlanPublic,
    ScreeningCreate,
    ScreeningPublic,
)
from ketasim.clinic.api.schemas.ratings import CoursePointPublic, RatingCreate, RatingPublic
from ketasim.clinic.api.schemas.sessions import (
    AdverseEventIn,
    AdverseEventPublic,
    AmendmentIn,
    AmendmentPublic,
    DischargeIn,
    DoseIn,
    ObservationIn,
    ObservationPublic,
    PredoseIn,
    SessionCancel,
    SessionCreate,
    SessionPublic,
    SessionUpdate,
)

__all__ = [
    "AdverseEventIn",
    "AdverseEventPublic",
    "AlertPublic",
    "AmendmentIn",
    "AmendmentPublic",
    "AuditEntryPublic",
    "AuditVerifyPublic",
    "ConsentCreate",
    "ConsentDocumentCreate",
    "ConsentDocumentPublic",
    "ConsentPublic",
    "ConsentWithdraw",
    "CoursePointPublic",
    "DischargeIn",
    "DoseIn",
    "FindingPublic",
    "LoginIn",
    "LoginOut",
    "ObservationIn",
    "ObservationPublic",
    "PasswordChange",
    "PasswordReset",
    "PatientCreate",
    "PatientPublic",
    "PatientUpdate",
    "PlanCreate",
    "PlanPublic",
    "PredoseIn",
    "RatingCreate",
    "RatingPublic",
    "RecordModel",
    "RequestModel",
    "ScreeningCreate",
    "ScreeningPublic",
    "SessionCancel",
    "SessionCreate",
    "SessionPublic",
    "SessionUpdate",
    "TotpCode",
    "TotpEnrolment",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "UtcTime",
]
