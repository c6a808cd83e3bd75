"""eligo.criteria: eligibility criteria -> computable rules.

>>> from eligo.criteria import parse
>>> criteria = parse("Inclusion Criteria:\\n- Age >= 18 years\\nExclusion Criteria:\\n- Pregnancy")
"""

from eligo.criteria.parse import CriteriaError, criteria_schema, demographics_from_fields, parse
from eligo.criteria.types import Criteria, Criterion, CriterionEntity, Demographics

__all__ = [
    "Criteria",
    "CriteriaError",
    "Criterion",
    "CriterionEntity",
    "Demographics",
    "criteria_schema",
    "demographics_from_fields",
    "parse",
]
