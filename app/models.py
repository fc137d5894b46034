"""Imports every ORM module so that `Base.metadata` knows the whole schema (for migrations)."""

from app.assessments import models as assessments
from app.audit import models as audit
from app.invites import models as invites
from app.limits import models as limits
from app.reviews import models as reviews
from app.scoring import models as scoring
from app.submissions import models as submissions
from app.users import models as users

__all__ = [
    "assessments",
    "audit",
    "invites",
    "limits",
    "reviews",
    "scoring",
    "submissions",
    "users",
]
