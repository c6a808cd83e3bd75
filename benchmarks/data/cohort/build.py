"""Write the synthetic prescreening cohort: trials.jsonl, charts.jsonl, truth.jsonl.

Everything here is invented for eligo's tests (no real patient, no corpus text). Each chart
was written for one trial, with the verdict of every criterion decided by its author from
the chart text, under the conventions in README.md, before eligo was run on it.

    .venv/bin/python benchmarks/data/cohort/build.py   # rewrites the three JSONL files
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INDEX_DATE = "2026-06-15"

# --- trials --------------------------------------------------------------------------------

TRIALS = [
    {
        "id": "T-DM2",
        "min_age": "18 Years",
        "max_age": "75 Years",
        "sex": "All",
        "text": """Inclusion Criteria:
- Adults aged 18 to 75 years
- Diagnosis of type 2 diabetes mellitus
- HbA1c between 7.0% and 10.5% within 3 months before screening
- Currently taking metformin

Exclusion Criteria:
- Type 1 diabetes mellitus
- History of pancreatitis
- eGFR < 30 mL/min/1.73 m2
- Current use of insulin
- Pregnant or breastfeeding women
""",
    },
    {
        "id": "T-HF",
        "min_age": "40 Years",
        "max_age": None,
        "sex": "All",
        "text": """Inclusion Criteria:
1. Age 40 years or older
2. Diagnosis of chronic heart failure
3. Left ventricular ejection fraction (LVEF) <= 40%
4. NT-proBNP >= 600 pg/mL within 6 months prior to screening

Exclusion Criteria:
1. Myocardial infarction within 3 months prior to screening
2. Serum potassium > 5.0 mmol/L
3. History of heart transplant
4. Current treatment with digoxin
""",
    },
    {
        "id": "T-LUNG",
        "min_age": "18 Years",
        "max_age": None,
        "sex": "All",
        "text": """Key Inclusion Criteria:
* Histologically confirmed non-small cell lung cancer
* Absolute neutrophil count (ANC) >= 1,500/uL
* Platelet count >= 100,000/uL
* Hemoglobin >= 9.0 g/dL

Key Exclusion Criteria:
* Prior treatment with pembrolizumab
* Active hepatitis B infection
* Known brain metastases
* Serum creatinine > 1.5 mg/dL
""",
    },
    {
        "id": "T-AF",
        "min_age": "65 Years",
        "max_age": None,
        "sex": "All",
        "text": """Inclusion Criteria:
- Age 65 years or older
- Documented atrial fibrillation

Exclusion Criteria:
- Stroke within 6 months prior to screening
- Current treatment with warfarin
- Hemoglobin < 10 g/dL
- History of intracranial hemorrhage
""",
    },
]

# Each truth key is a fragment of one criterion's text (case-insensitive), in trial order.
KEYS = {
    "T-DM2": [
        ("inclusion", "aged 18 to 75"),
        ("inclusion", "type 2 diabetes"),
        ("inclusion", "HbA1c"),
        ("inclusion", "metformin"),
        ("exclusion", "Type 1 diabetes"),
        ("exclusion", "pancreatitis"),
        ("exclusion", "eGFR"),
        ("exclusion", "insulin"),
        ("exclusion", "Pregnant"),
    ],
    "T-HF": [
        ("inclusion", "Age 40"),
        ("inclusion", "chronic heart failure"),
        ("inclusion", "LVEF"),
        ("inclusion", "NT-proBNP"),
        ("exclusion", "Myocardial infarction"),
        ("exclusion", "potassium"),
        ("exclusion", "heart transplant"),
        ("exclusion", "digoxin"),
    ],
    "T-LUNG": [
        ("inclusion", "non-small cell"),
        ("inclusion", "neutrophil"),
        ("inclusion", "Platelet"),
        ("inclusion", "Hemoglobin"),
        ("exclusion", "pembrolizumab"),
        ("exclusion", "hepatitis B"),
        ("exclusion", "brain metastases"),
        ("exclusion", "creatinine"),
    ],
    "T-AF": [
        ("inclusion", "Age 65"),
        ("inclusion", "atrial fibrillation"),
        ("exclusion", "Stroke"),
        ("exclusion", "warfarin"),
        ("exclusion", "Hemoglobin"),
        ("exclusion", "intracranial hemorrhage"),
    ],
}

# --- FHIR helpers --------------------------------------------------------------------------

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def condition(
    rid: str, code: str, display: str, onset: str, *, status: str = "active",
    abated: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": _cc(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", status, status
        ),
        "code": _cc(SNOMED, code, display),
        "subject": {"reference": "Patient/p"},
        "onsetDateTime": onset,
    }
    if abated:
        resource["abatementDateTime"] = abated
    return resource


def medication(
    rid: str, code: str, display: str, start: str, *, status: str = "active",
    end: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": _cc(RXNORM, code, display),
        "subject": {"reference": "Patient/p"},
        "authoredOn": start,
    }
    if end:
        resource["dispenseRequest"] = {"validityPeriod": {"start": start, "end": end}}
    return resource


def observation(
    rid: str, code: str, display: str, value: float, unit: str, when: str
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": _cc(LOINC, code, display),
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org"},
    }


def bundle(pid: str, birth: str, sex: str, *resources: dict[str, Any]) -> dict[str, Any]:
    patient = {"resourceType": "Patient", "id": "p", "birthDate": birth, "gender": sex}
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "id": f"bundle-{pid}",
        "entry": [{"resource": r} for r in (patient, *resources)],
    }


# --- charts and truth ----------------------------------------------------------------------
# Verdict letters in trial key order: M = met, N = not_met, U = unknown.

CHARTS: list[dict[str, Any]] = []


def chart(
    pid: str, trial: str, birth: str | None, sex: str | None, verdicts: str, status: str,
    notes: list[tuple[str, str]], *, fhir: dict[str, Any] | None = None, why: str = "",
) -> None:  # fmt: skip
    keys = KEYS[trial]
    assert len(verdicts) == len(keys), (pid, verdicts)
    record: dict[str, Any] = {"id": pid}
    if birth:
        record["birth_date"] = birth
    if sex:
        record["sex"] = sex
    record["notes"] = [
        {"id": f"{pid}-n{i}", "date": day, "text": text} for i, (day, text) in enumerate(notes, 1)
    ]
    if fhir is not None:
        record["fhir"] = fhir
    names = {"M": "met", "N": "not_met", "U": "unknown"}
    truth = {
        "patient": pid,
        "trial": trial,
        "status": status,
        "criteria": [
            {"kind": kind, "key": key, "verdict": names[v]}
            for (kind, key), v in zip(keys, verdicts, strict=True)
        ],
        "why": why,
    }
    CHARTS.append({"record": record, "truth": truth})


# ---- T-DM2: I age, T2DM, HbA1c 7.0-10.5 in 3 mo, metformin now | E T1DM, pancreatitis,
#      eGFR<30, insulin now, pregnant/breastfeeding

chart(
    "dm01",
    "T-DM2",
    "1968-03-02",
    "female",
    "MMMMNNNNN",
    "eligible",
    [
        (
            "2026-05-20",
            """
Primary care follow-up.
58-year-old woman with type 2 diabetes mellitus diagnosed in 2015 and hypertension.
Medications: metformin 1000 mg twice daily, lisinopril 10 mg daily.
Labs 2026-05-18: HbA1c 8.2%, eGFR 74 mL/min/1.73 m2.
She denies any history of pancreatitis. Denies chest pain or shortness of breath.
Plan: continue metformin, refer to diabetes study.
""",
        )
    ],
    why="clean eligible; negated pancreatitis",
)

chart(
    "dm02",
    "T-DM2",
    "1971-09-14",
    "male",
    "MMNMNNNNN",
    "excluded",
    [
        (
            "2026-06-02",
            """
Diabetes clinic note.
Type 2 diabetes, poorly controlled. Takes metformin 1000 mg BID.
HbA1c today 10.6%. Creatinine 0.9 mg/dL, eGFR 88.
No abdominal pain. Discussed adding a second agent.
""",
        )
    ],
    why="HbA1c just above the 10.5% range",
)

chart(
    "dm03",
    "T-DM2",
    "1962-11-30",
    "male",
    "MMMMNNNNN",
    "eligible",
    [
        (
            "2026-05-28",
            """
History of present illness: 63-year-old man with type 2 diabetes mellitus on metformin
2000 mg daily, here for routine care. Hyperlipidemia on atorvastatin.
HbA1c 10.5% drawn 2026-05-27. eGFR 61 mL/min/1.73 m2.
Assessment: T2DM, at the upper end of target range for the trial.
""",
        )
    ],
    why="HbA1c exactly at the upper bound (inclusive)",
)

chart(
    "dm04",
    "T-DM2",
    "1959-01-22",
    "female",
    "MMUMNNNNN",
    "needs_review",
    [
        (
            "2025-11-03",
            """
Type 2 diabetes mellitus. Metformin 500 mg twice daily. HbA1c 8.0% on 2025-11-01.
eGFR 70.
""",
        ),
        (
            "2026-06-01",
            """
Telephone follow-up. Continues metformin 500 mg BID, tolerating well. Type 2 diabetes.
No new complaints. eGFR 68 mL/min/1.73 m2 on 2026-05-30. Repeat HbA1c ordered.
""",
        ),
    ],
    why="only HbA1c is from November 2025, outside the 3-month window",
)

chart(
    "dm05",
    "T-DM2",
    "1980-07-07",
    "male",
    "MMMMNNNNN",
    "eligible",
    [
        (
            "2026-05-12",
            """
New patient visit. Type 2 diabetes mellitus diagnosed 3 years ago, on metformin 850 mg
twice daily. HbA1c 7.8% on 2026-05-10. eGFR 92.
Family history: mother had type 1 diabetes; father with coronary artery disease.
""",
        )
    ],
    why="type 1 diabetes only in the family history",
)

chart(
    "dm06",
    "T-DM2",
    "1966-04-18",
    "female",
    "MMMNNNNNN",
    "excluded",
    [
        (
            "2026-05-05",
            """
Type 2 diabetes mellitus. Metformin was stopped in 2024 because of GI intolerance.
She now takes sitagliptin 100 mg daily.
HbA1c 7.9% on 2026-05-01. eGFR 81 mL/min/1.73 m2.
""",
        )
    ],
    why="metformin only in the past",
)

chart(
    "dm07",
    "T-DM2",
    "1957-12-01",
    "male",
    "MMMMNNNMN",
    "excluded",
    [
        (
            "2026-05-30",
            """
Type 2 diabetes mellitus with neuropathy. Current medications: metformin 1000 mg BID and
insulin glargine 24 units at bedtime. HbA1c 8.9% on 2026-05-29. eGFR 55.
""",
        )
    ],
    why="current basal insulin",
)

chart(
    "dm08",
    "T-DM2",
    "2008-06-15",
    "female",
    "MMMMNNNNN",
    "eligible",
    [
        (
            "2026-06-10",
            """
Adolescent-to-adult transition visit. Type 2 diabetes mellitus since age 14, on metformin
1000 mg twice daily. HbA1c 7.0% on 2026-06-08. eGFR 118.
Not pregnant; urine hCG negative today.
""",
        )
    ],
    why="18th birthday on the index date; HbA1c exactly 7.0%",
)

chart(
    "dm09",
    "T-DM2",
    "1950-06-15",
    "male",
    "NMMMNNNNN",
    "excluded",
    [
        (
            "2026-05-22",
            """
Type 2 diabetes mellitus for 20 years. Metformin 500 mg twice daily. HbA1c 7.6% on
2026-05-20. eGFR 52 mL/min/1.73 m2. Benign prostatic hyperplasia.
""",
        )
    ],
    why="turns 76 on the index date (above 75)",
)

chart("dm10", "T-DM2", "1972-02-09", "male", "MMMMNNNNN", "eligible", [("2026-05-15", """
Follow-up for diabetes. Doing well, no hypoglycemia. Exercising three times a week.
""")], fhir=bundle(
    "dm10", "1972-02-09", "male",
    condition("c1", "44054006", "Diabetes mellitus type 2 (disorder)", "2016-04-01"),
    condition("c2", "38341003", "Hypertensive disorder, systemic arterial (disorder)",
              "2018-09-12"),
    medication("m1", "860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",
               "2016-04-01"),
    medication("m2", "314076", "lisinopril 10 MG Oral Tablet", "2018-09-12"),
    observation("o1", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", 64, "mmol/mol",
                "2026-05-14"),
    observation("o2", "33914-3", "Glomerular filtration rate/1.73 sq M.predicted", 45,
                "mL/min/{1.73_m2}", "2026-05-14"),
), why="structured only; HbA1c 64 mmol/mol = 8.0%")  # fmt: skip

chart(
    "dm11",
    "T-DM2",
    "1964-08-25",
    "female",
    "MMMMNNNNN",
    "eligible",
    [
        (
            "2026-06-05",
            """
Nephrology co-management. Type 2 diabetes mellitus with diabetic kidney disease, stage 3b.
Metformin dose reduced to 500 mg daily. HbA1c 7.4% on 2026-06-03.
eGFR 30 mL/min/1.73 m2 on 2026-06-03, stable.
""",
        )
    ],
    why="eGFR exactly 30 does not meet < 30",
)

chart(
    "dm12",
    "T-DM2",
    "1955-05-03",
    "male",
    "MMMMNNMNN",
    "excluded",
    [
        (
            "2026-06-05",
            """
Type 2 diabetes mellitus with CKD stage 4. Metformin 500 mg daily (nephrology aware).
HbA1c 7.2% on 2026-06-01. eGFR 29 mL/min/1.73 m2 on 2026-06-01.
""",
        )
    ],
    why="eGFR 29, just under 30",
)

chart(
    "dm13",
    "T-DM2",
    "1975-10-10",
    "male",
    "MMUMNUNNN",
    "needs_review",
    [
        (
            "2026-06-12",
            """
Urgent care visit for epigastric pain radiating to the back. Type 2 diabetes mellitus on
metformin 1000 mg BID. Possible pancreatitis; lipase pending. eGFR 84.
No recent HbA1c on file.
""",
        )
    ],
    why="no HbA1c; pancreatitis only suspected",
)

chart(
    "dm14",
    "T-DM2",
    "1994-03-19",
    "female",
    "MMMMNNNNM",
    "excluded",
    [
        (
            "2026-06-03",
            """
Type 2 diabetes mellitus on metformin 1000 mg twice daily. She is currently pregnant,
14 weeks gestation, followed by obstetrics. HbA1c 7.1% on 2026-06-01. eGFR 110.
""",
        )
    ],
    why="pregnant",
)

chart(
    "dm15",
    "T-DM2",
    "1969-06-30",
    "male",
    "MMMMNMNNN",
    "excluded",
    [
        (
            "2026-05-25",
            """
Type 2 diabetes mellitus on metformin 500 mg BID. History of acute pancreatitis in 2019
related to gallstones, status post cholecystectomy. No evidence of type 1 diabetes;
GAD antibodies negative. HbA1c 8.4% on 2026-05-20. eGFR 77.
""",
        )
    ],
    why="pancreatitis in 2019 (history of, any time)",
)

# ---- T-HF: I age>=40, chronic HF, LVEF<=40, NT-proBNP>=600 in 6 mo | E MI in 3 mo,
#      K>5.0, heart transplant, digoxin now

chart(
    "hf01",
    "T-HF",
    "1959-02-11",
    "male",
    "MMMMNNNN",
    "eligible",
    [
        (
            "2026-05-18",
            """
Heart failure clinic. 67-year-old man with chronic heart failure with reduced ejection
fraction, NYHA class II. Echocardiogram on 2026-04-02: LVEF 30%.
NT-proBNP 1450 pg/mL on 2026-05-15. Potassium 4.6 mmol/L.
Medications: carvedilol 12.5 mg BID, furosemide 40 mg daily, spironolactone 25 mg daily.
No prior myocardial infarction; nonischemic cardiomyopathy.
""",
        )
    ],
    why="clean eligible",
)

chart(
    "hf02",
    "T-HF",
    "1948-10-03",
    "female",
    "MMMMNNNN",
    "eligible",
    [
        (
            "2026-06-01",
            """
Chronic heart failure, ischemic cardiomyopathy after myocardial infarction in 2011.
LVEF 40% by echocardiogram 2026-05-20. NT-proBNP 620 pg/mL on 2026-05-28.
K 4.2 mmol/L. On sacubitril-valsartan and metoprolol succinate.
""",
        )
    ],
    why="LVEF exactly 40%; MI in 2011 is outside the 3-month window",
)

chart(
    "hf03",
    "T-HF",
    "1952-07-19",
    "female",
    "MMNMNNNN",
    "excluded",
    [
        (
            "2026-05-26",
            """
Chronic heart failure with preserved ejection fraction. LVEF 55% on echo 2026-05-10.
NT-proBNP 980 pg/mL on 2026-05-10. Potassium 4.4. On furosemide 20 mg daily.
""",
        )
    ],
    why="LVEF 55% (above 40%)",
)

chart("hf04", "T-HF", "1955-01-28", "male", "MMMMMNNU", "excluded", [("2026-05-20", """
Post-hospital follow-up. Chronic heart failure with reduced ejection fraction, LVEF 25% on
echo 2026-04-22. NT-proBNP 3100 pg/mL on 2026-05-18. Potassium 4.8 mmol/L.
""")], fhir=bundle(
    "hf04", "1955-01-28", "male",
    condition("c1", "22298006", "Myocardial infarction (disorder)", "2026-04-20"),
    condition("c2", "84114007", "Heart failure (disorder)", "2020-03-02"),
), why="MI on 2026-04-20, within 3 months")  # fmt: skip

chart(
    "hf05",
    "T-HF",
    "1950-12-12",
    "male",
    "MMMMNNNN",
    "eligible",
    [
        (
            "2026-06-08",
            """
Chronic heart failure with reduced ejection fraction. Remote myocardial infarction in 2015,
status post PCI to the LAD. LVEF 35% on echo 2026-03-03. NT-proBNP 780 pg/mL on 2026-06-01.
Potassium 4.9 mmol/L. Medications: metoprolol, lisinopril, furosemide.
""",
        )
    ],
    why="MI in 2015, outside the window",
)

chart(
    "hf06",
    "T-HF",
    "1957-04-04",
    "female",
    "MMMMNMNN",
    "excluded",
    [
        (
            "2026-06-09",
            """
Chronic heart failure with reduced ejection fraction, LVEF 32%. NT-proBNP 1200 pg/mL on
2026-06-05. Potassium 5.1 mmol/L on 2026-06-05, spironolactone held.
""",
        )
    ],
    why="potassium 5.1 (> 5.0)",
)

chart(
    "hf07",
    "T-HF",
    "1961-09-09",
    "male",
    "MMMMNNNN",
    "eligible",
    [
        (
            "2026-06-09",
            """
Chronic heart failure with reduced ejection fraction, LVEF 28%. NT-proBNP 2050 pg/mL on
2026-06-02. Potassium 5.0 mEq/L on 2026-06-02. Medications: carvedilol, furosemide.
""",
        )
    ],
    why="potassium exactly 5.0 mEq/L does not meet > 5.0 mmol/L",
)

chart(
    "hf08",
    "T-HF",
    "1946-05-21",
    "female",
    "MMMMNNNN",
    "eligible",
    [
        (
            "2026-05-29",
            """
Chronic heart failure with reduced ejection fraction, LVEF 35% on 2026-02-11.
NT-proBNP 1650 pg/mL on 2026-05-27. Potassium 4.3 mmol/L.
Digoxin was discontinued in 2023 after a level of 2.4. Now on bisoprolol and furosemide.
""",
        )
    ],
    why="digoxin only in the past",
)

chart("hf09", "T-HF", "1949-08-16", "male", "MMMMNNNM", "excluded", [("2026-05-14", """
Chronic heart failure with atrial fibrillation. LVEF 30% on 2026-01-20.
NT-proBNP 2400 pg/mL on 2026-05-10. Potassium 4.5.
""")], fhir=bundle(
    "hf09", "1949-08-16", "male",
    condition("c1", "84114007", "Heart failure (disorder)", "2019-05-02"),
    medication("m1", "197604", "Digoxin 0.125 MG Oral Tablet", "2024-02-01"),
    medication("m2", "200031", "carvedilol 6.25 MG Oral Tablet", "2019-05-02"),
), why="current digoxin (active MedicationRequest)")  # fmt: skip

chart(
    "hf10",
    "T-HF",
    "1963-03-27",
    "male",
    "MMMUNNNU",
    "needs_review",
    [
        (
            "2026-06-10",
            """
Chronic heart failure with reduced ejection fraction, LVEF 33% on echo 2026-04-15.
Potassium 4.1 mmol/L. Family history: father had a heart transplant at age 58.
BNP not checked this year.
""",
        )
    ],
    why="no NT-proBNP; heart transplant only in the father",
)

chart(
    "hf11",
    "T-HF",
    "1986-06-16",
    "female",
    "NMMMNNNU",
    "excluded",
    [
        (
            "2026-05-30",
            """
Peripartum cardiomyopathy diagnosed in 2022, now chronic heart failure with reduced ejection
fraction. LVEF 35% on 2026-05-02. NT-proBNP 900 pg/mL on 2026-05-25. Potassium 4.0 mmol/L.
""",
        )
    ],
    why="39 years old at the index date (40th birthday the next day)",
)

chart(
    "hf12",
    "T-HF",
    "1954-11-05",
    "male",
    "MMMMNNNN",
    "eligible",
    [
        (
            "2026-06-04",
            """
Chronic heart failure with reduced ejection fraction, LVEF 38% on 2026-05-06.
NT-proBNP 850 ng/L on 2026-06-01. Potassium 4.7 mmol/L.
Medications: metoprolol succinate 50 mg daily, furosemide 40 mg daily.
""",
        )
    ],
    why="NT-proBNP reported in ng/L (same as pg/mL)",
)

# ---- T-LUNG: I NSCLC, ANC>=1500/uL, platelets>=100k/uL, Hgb>=9 | E prior pembrolizumab,
#      active hepatitis B, brain metastases, creatinine>1.5 mg/dL

chart(
    "lu01",
    "T-LUNG",
    "1958-06-02",
    "male",
    "MMMMNNNN",
    "eligible",
    [
        (
            "2026-06-03",
            """
Thoracic oncology consult. Stage IV non-small cell lung cancer (adenocarcinoma), EGFR and
ALK negative, treated with carboplatin and pemetrexed in 2025. MRI brain 2026-05-20: no
brain metastases. Labs 2026-06-01: ANC 3.2 K/uL, platelets 210 K/uL, hemoglobin 12.1 g/dL,
creatinine 0.9 mg/dL.
""",
        )
    ],
    why="clean eligible; negated brain metastases",
)

chart(
    "lu02",
    "T-LUNG",
    "1963-01-17",
    "female",
    "MMMMUNNN",
    "needs_review",
    [
        (
            "2026-06-08",
            """
Non-small cell lung cancer, squamous histology, stage IIIB, progressed after chemoradiation.
CBC 2026-06-05: ANC 1,500/uL, platelets 100 x10^9/L, hemoglobin 9.0 g/dL.
Creatinine 1.1 mg/dL.
""",
        )
    ],
    why="ANC, platelets, hemoglobin exactly at thresholds; no drug history: pembrolizumab unknown",
)

chart(
    "lu03",
    "T-LUNG",
    "1955-09-23",
    "male",
    "MMNMUNNN",
    "excluded",
    [
        (
            "2026-06-10",
            """
Metastatic non-small cell lung cancer. Labs 2026-06-09: ANC 2.4 K/uL, platelets 95,000/uL,
hemoglobin 11.0 g/dL, creatinine 1.0 mg/dL.
""",
        )
    ],
    why="platelets 95,000 (< 100,000)",
)

chart(
    "lu04",
    "T-LUNG",
    "1960-12-08",
    "female",
    "MMMMMNNN",
    "excluded",
    [
        (
            "2026-06-02",
            """
Non-small cell lung cancer, PD-L1 80%. Received pembrolizumab from 2024-03 to 2025-06,
stopped for progression. ANC 4.1 K/uL, platelets 250 K/uL, hemoglobin 12.8 g/dL on
2026-05-30. Creatinine 0.8 mg/dL.
""",
        )
    ],
    why="prior pembrolizumab",
)

chart(
    "lu05",
    "T-LUNG",
    "1952-04-14",
    "male",
    "MMMMMNNN",
    "excluded",
    [
        (
            "2026-05-27",
            """
Non-small cell lung cancer, adenocarcinoma. He received Keytruda for four cycles in 2024.
Labs 2026-05-25: ANC 2.9 K/uL, platelets 180 K/uL, hemoglobin 13.0 g/dL, creatinine 1.2.
""",
        )
    ],
    why="prior pembrolizumab by brand name",
)

chart(
    "lu06",
    "T-LUNG",
    "1966-07-30",
    "female",
    "MMMMUNMN",
    "excluded",
    [
        (
            "2026-06-06",
            """
Non-small cell lung cancer with brain metastases, treated with stereotactic radiosurgery
on 2026-04-10. ANC 3.0 K/uL, platelets 160 K/uL, hemoglobin 11.5 g/dL on 2026-06-04.
Creatinine 0.7 mg/dL.
""",
        )
    ],
    why="known brain metastases",
)

chart(
    "lu07",
    "T-LUNG",
    "1957-02-25",
    "male",
    "MMMMNNNN",
    "eligible",
    [
        (
            "2026-06-01",
            """
Non-small cell lung cancer, stage IV. History of hepatitis B, resolved; hepatitis B surface
antigen negative in 2026. ANC 2.2 K/uL, platelets 140 K/uL, hemoglobin 10.4 g/dL on
2026-05-29. Creatinine 1.3 mg/dL. Completed carboplatin and paclitaxel in 2025.
""",
        )
    ],
    why="hepatitis B resolved, not active",
)

chart(
    "lu08",
    "T-LUNG",
    "1959-10-19",
    "male",
    "NMMMNNNN",
    "excluded",
    [
        (
            "2026-06-04",
            """
Extensive-stage small cell lung cancer, progressed after platinum-etoposide.
ANC 2.0 K/uL, platelets 150 K/uL, hemoglobin 10.9 g/dL on 2026-06-02. Creatinine 0.9 mg/dL.
""",
        )
    ],
    why="small cell, not non-small cell, lung cancer",
)

chart(
    "lu09",
    "T-LUNG",
    "1950-03-03",
    "female",
    "MMMMUNNM",
    "excluded",
    [
        (
            "2026-06-11",
            """
Non-small cell lung cancer. Chronic kidney disease. Labs 2026-06-10: ANC 3.5 K/uL,
platelets 230 K/uL, hemoglobin 10.1 g/dL, creatinine 1.6 mg/dL.
""",
        )
    ],
    why="creatinine 1.6 mg/dL",
)

chart(
    "lu10",
    "T-LUNG",
    "1961-05-05",
    "male",
    "MMMMNNNN",
    "eligible",
    [
        (
            "2026-06-05",
            """
Non-small cell lung cancer, adenocarcinoma, stage IV. Labs 2026-06-03: ANC 2.6 x10^9/L,
platelets 175 x10^9/L, hemoglobin 12.4 g/dL, creatinine 130 umol/L.
Previously treated with docetaxel.
""",
        )
    ],
    why="creatinine 130 umol/L = 1.47 mg/dL",
)

chart(
    "lu11",
    "T-LUNG",
    "1964-08-08",
    "female",
    "MUUUUNNN",
    "needs_review",
    [
        (
            "2026-06-12",
            """
New diagnosis of non-small cell lung cancer, adenocarcinoma, on biopsy 2026-06-01.
Staging PET scheduled. Blood counts to be drawn at the next visit. Creatinine 0.8 mg/dL.
""",
        )
    ],
    why="no blood counts",
)

chart("lu12", "T-LUNG", "1956-01-20", "male", "MMMNUNNN", "excluded", [("2026-06-02", """
Oncology follow-up. Fatigue. Transfusion discussed.
""")], fhir=bundle(
    "lu12", "1956-01-20", "male",
    condition("c1", "254637007", "Non-small cell lung cancer (disorder)", "2025-08-14"),
    observation("o1", "751-8", "Neutrophils [#/volume] in Blood by Automated count", 2.1,
                "10*3/uL", "2026-05-30"),
    observation("o2", "777-3", "Platelets [#/volume] in Blood by Automated count", 180,
                "10*3/uL", "2026-05-30"),
    observation("o3", "718-7", "Hemoglobin [Mass/volume] in Blood", 8.7, "g/dL", "2026-05-30"),
    observation("o4", "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", 1.0, "mg/dL",
                "2026-05-30"),
), why="hemoglobin 8.7 (< 9.0), structured only")  # fmt: skip

# ---- T-AF: I age>=65, atrial fibrillation | E stroke in 6 mo, warfarin now, Hgb<10,
#      intracranial hemorrhage ever

chart(
    "af01",
    "T-AF",
    "1954-02-17",
    "female",
    "MMNNNN",
    "eligible",
    [
        (
            "2026-06-01",
            """
Cardiology follow-up. Permanent atrial fibrillation, rate controlled on metoprolol.
Anticoagulated with apixaban 5 mg BID. Hemoglobin 13.2 g/dL on 2026-05-28.
No history of stroke or bleeding.
""",
        )
    ],
    why="clean eligible",
)

chart(
    "af02",
    "T-AF",
    "1961-06-15",
    "male",
    "MMNNNN",
    "eligible",
    [
        (
            "2026-06-02",
            """
Paroxysmal atrial fibrillation diagnosed 2025-11. On apixaban 5 mg twice daily.
Hemoglobin 14.5 g/dL on 2026-05-30. Hypertension on amlodipine.
""",
        )
    ],
    why="65th birthday on the index date",
)

chart(
    "af03",
    "T-AF",
    "1961-06-16",
    "female",
    "NMNNNN",
    "excluded",
    [
        (
            "2026-06-02",
            """
Atrial fibrillation, persistent. On apixaban. Hemoglobin 12.9 g/dL on 2026-05-30.
""",
        )
    ],
    why="64 at the index date (65th birthday the next day)",
)

chart("af04", "T-AF", "1947-09-01", "male", "MMMNNN", "excluded", [("2026-05-10", """
Atrial fibrillation. Recent ischemic stroke with residual left arm weakness, now in
rehabilitation. Apixaban started after the stroke. Hemoglobin 13.0 g/dL on 2026-05-08.
""")], fhir=bundle(
    "af04", "1947-09-01", "male",
    condition("c1", "49436004", "Atrial fibrillation (disorder)", "2021-01-15"),
    condition("c2", "230690007", "Cerebrovascular accident (disorder)", "2026-04-02"),
), why="stroke on 2026-04-02, within 6 months")  # fmt: skip

chart(
    "af05",
    "T-AF",
    "1945-11-11",
    "female",
    "MMNNNN",
    "eligible",
    [
        (
            "2026-05-15",
            """
Atrial fibrillation on apixaban. Ischemic stroke in March 2024 with full recovery.
Hemoglobin 12.2 g/dL on 2026-05-12.
""",
        )
    ],
    why="stroke in 2024, outside the 6-month window",
)

chart(
    "af06",
    "T-AF",
    "1950-08-08",
    "male",
    "MMNMNN",
    "excluded",
    [
        (
            "2026-06-03",
            """
Chronic atrial fibrillation. Currently on warfarin 5 mg daily, INR 2.4 on 2026-06-01.
Hemoglobin 14.1 g/dL on 2026-06-01.
""",
        )
    ],
    why="current warfarin",
)

chart(
    "af07",
    "T-AF",
    "1948-04-04",
    "female",
    "MMNNNN",
    "eligible",
    [
        (
            "2026-05-21",
            """
Atrial fibrillation. Warfarin was discontinued in 2025 because of labile INR and she was
switched to apixaban 5 mg BID. Hemoglobin 12.7 g/dL on 2026-05-19.
""",
        )
    ],
    why="warfarin only in the past",
)

chart(
    "af08",
    "T-AF",
    "1952-12-30",
    "male",
    "MMNNNN",
    "eligible",
    [
        (
            "2026-06-09",
            """
Atrial fibrillation on apixaban. Chronic anemia of kidney disease.
Hemoglobin 10.0 g/dL on 2026-06-08.
""",
        )
    ],
    why="hemoglobin exactly 10.0 does not meet < 10",
)

chart(
    "af09",
    "T-AF",
    "1949-07-27",
    "female",
    "MMNNMN",
    "excluded",
    [
        (
            "2026-06-09",
            """
Atrial fibrillation on apixaban. Iron deficiency anemia. Hemoglobin 9.9 g/dL on 2026-06-07.
""",
        )
    ],
    why="hemoglobin 9.9",
)

chart(
    "af10",
    "T-AF",
    "1944-03-13",
    "male",
    "MMNNMN",
    "excluded",
    [
        (
            "2026-06-11",
            """
Atrial fibrillation on apixaban. Hemoglobin 98 g/L on 2026-06-10 (outside laboratory).
""",
        )
    ],
    why="hemoglobin 98 g/L = 9.8 g/dL",
)

chart(
    "af11",
    "T-AF",
    "1953-05-19",
    "male",
    "MMNNNN",
    "eligible",
    [
        (
            "2026-06-05",
            """
Paroxysmal atrial fibrillation on apixaban 5 mg BID. Denies chest pain or palpitations.
Family history: brother had an intracranial hemorrhage at 70. Hemoglobin 15.0 g/dL on
2026-06-03.
""",
        )
    ],
    why="intracranial hemorrhage only in the family history",
)

chart(
    "af12",
    "T-AF",
    "1951-10-02",
    "female",
    "MUNUNN",
    "needs_review",
    [
        (
            "2026-06-10",
            """
Palpitations. Holter monitor showed possible atrial fibrillation, to be confirmed by
cardiology. Hemoglobin 13.4 g/dL on 2026-06-08.
""",
        )
    ],
    why="atrial fibrillation only suspected",
)

chart(
    "af13",
    "T-AF",
    "1946-01-09",
    "male",
    "MMNUNM",
    "excluded",
    [
        (
            "2026-05-19",
            """
Atrial fibrillation, not anticoagulated. History of intracranial hemorrhage in 2018 after a
fall. Hemoglobin 13.6 g/dL on 2026-05-17.
""",
        )
    ],
    why="intracranial hemorrhage in 2018 (history of, any time)",
)


def main() -> None:
    with (HERE / "trials.jsonl").open("w", encoding="utf-8") as out:
        for trial in TRIALS:
            out.write(json.dumps(trial) + "\n")
    with (HERE / "charts.jsonl").open("w", encoding="utf-8") as out:
        for item in CHARTS:
            record = item["record"]
            for note in record["notes"]:
                note["text"] = note["text"].strip() + "\n"
            out.write(json.dumps(record) + "\n")
    with (HERE / "truth.jsonl").open("w", encoding="utf-8") as out:
        for item in CHARTS:
            out.write(json.dumps(item["truth"]) + "\n")
    print(f"{len(TRIALS)} trials, {len(CHARTS)} charts, index date {INDEX_DATE}")


if __name__ == "__main__":
    main()
