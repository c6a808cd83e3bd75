"""eligo.criteria: eligibility criteria -> computable rules (see the open issues)."""
