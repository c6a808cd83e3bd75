-- OMOP CDM v5.4, DuckDB: the tables eligo reads and writes (a subset of the full model).
-- Columns, types and nullability as in the OHDSI CommonDataModel v5.4 specification
-- (inst/ddl/5.4/duckdb/OMOPCDM_duckdb_5.4_ddl.sql); constraints and indices left out.
-- Provenance and the list of tables: SOURCE.md beside this file.

-- clinical data ------------------------------------------------------------------------------

CREATE TABLE person (
    person_id                   integer     NOT NULL,
    gender_concept_id           integer     NOT NULL,
    year_of_birth               integer     NOT NULL,
    month_of_birth              integer     NULL,
    day_of_birth                integer     NULL,
    birth_datetime              timestamp   NULL,
    race_concept_id             integer     NOT NULL,
    ethnicity_concept_id        integer     NOT NULL,
    location_id                 integer     NULL,
    provider_id                 integer     NULL,
    care_site_id                integer     NULL,
    person_source_value         varchar(50) NULL,
    gender_source_value         varchar(50) NULL,
    gender_source_concept_id    integer     NULL,
    race_source_value           varchar(50) NULL,
    race_source_concept_id      integer     NULL,
    ethnicity_source_value      varchar(50) NULL,
    ethnicity_source_concept_id integer     NULL
);

CREATE TABLE observation_period (
    observation_period_id         integer NOT NULL,
    person_id                     integer NOT NULL,
    observation_period_start_date date    NOT NULL,
    observation_period_end_date   date    NOT NULL,
    period_type_concept_id        integer NOT NULL
);

CREATE TABLE visit_occurrence (
    visit_occurrence_id           integer     NOT NULL,
    person_id                     integer     NOT NULL,
    visit_concept_id              integer     NOT NULL,
    visit_start_date              date        NOT NULL,
    visit_start_datetime          timestamp   NULL,
    visit_end_date                date        NOT NULL,
    visit_end_datetime            timestamp   NULL,
    visit_type_concept_id         integer     NOT NULL,
    provider_id                   integer     NULL,
    care_site_id                  integer     NULL,
    visit_source_value            varchar(50) NULL,
    visit_source_concept_id       integer     NULL,
    admitted_from_concept_id      integer     NULL,
    admitted_from_source_value    varchar(50) NULL,
    discharged_to_concept_id      integer     NULL,
    discharged_to_source_value    varchar(50) NULL,
    preceding_visit_occurrence_id integer     NULL
);

CREATE TABLE condition_occurrence (
    condition_occurrence_id       integer     NOT NULL,
    person_id                     integer     NOT NULL,
    condition_concept_id          integer     NOT NULL,
    condition_start_date          date        NOT NULL,
    condition_start_datetime      timestamp   NULL,
    condition_end_date            date        NULL,
    condition_end_datetime        timestamp   NULL,
    condition_type_concept_id     integer     NOT NULL,
    condition_status_concept_id   integer     NULL,
    stop_reason                   varchar(20) NULL,
    provider_id                   integer     NULL,
    visit_occurrence_id           integer     NULL,
    visit_detail_id               integer     NULL,
    condition_source_value        varchar(50) NULL,
    condition_source_concept_id   integer     NULL,
    condition_status_source_value varchar(50) NULL
);

CREATE TABLE drug_exposure (
    drug_exposure_id             integer     NOT NULL,
    person_id                    integer     NOT NULL,
    drug_concept_id              integer     NOT NULL,
    drug_exposure_start_date     date        NOT NULL,
    drug_exposure_start_datetime timestamp   NULL,
    drug_exposure_end_date       date        NOT NULL,
    drug_exposure_end_datetime   timestamp   NULL,
    verbatim_end_date            date        NULL,
    drug_type_concept_id         integer     NOT NULL,
    stop_reason                  varchar(20) NULL,
    refills                      integer     NULL,
    quantity                     numeric     NULL,
    days_supply                  integer     NULL,
    sig                          text        NULL,
    route_concept_id             integer     NULL,
    lot_number                   varchar(50) NULL,
    provider_id                  integer     NULL,
    visit_occurrence_id          integer     NULL,
    visit_detail_id              integer     NULL,
    drug_source_value            varchar(50) NULL,
    drug_source_concept_id       integer     NULL,
    route_source_value           varchar(50) NULL,
    dose_unit_source_value       varchar(50) NULL
);

CREATE TABLE procedure_occurrence (
    procedure_occurrence_id     integer     NOT NULL,
    person_id                   integer     NOT NULL,
    procedure_concept_id        integer     NOT NULL,
    procedure_date              date        NOT NULL,
    procedure_datetime          timestamp   NULL,
    procedure_end_date          date        NULL,
    procedure_end_datetime      timestamp   NULL,
    procedure_type_concept_id   integer     NOT NULL,
    modifier_concept_id         integer     NULL,
    quantity                    integer     NULL,
    provider_id                 integer     NULL,
    visit_occurrence_id         integer     NULL,
    visit_detail_id             integer     NULL,
    procedure_source_value      varchar(50) NULL,
    procedure_source_concept_id integer     NULL,
    modifier_source_value       varchar(50) NULL
);

CREATE TABLE measurement (
    measurement_id                integer     NOT NULL,
    person_id                     integer     NOT NULL,
    measurement_concept_id        integer     NOT NULL,
    measurement_date              date        NOT NULL,
    measurement_datetime          timestamp   NULL,
    measurement_time              varchar(10) NULL,
    measurement_type_concept_id   integer     NOT NULL,
    operator_concept_id           integer     NULL,
    value_as_number               numeric     NULL,
    value_as_concept_id           integer     NULL,
    unit_concept_id               integer     NULL,
    range_low                     numeric     NULL,
    range_high                    numeric     NULL,
    provider_id                   integer     NULL,
    visit_occurrence_id           integer     NULL,
    visit_detail_id               integer     NULL,
    measurement_source_value      varchar(50) NULL,
    measurement_source_concept_id integer     NULL,
    unit_source_value             varchar(50) NULL,
    unit_source_concept_id        integer     NULL,
    value_source_value            varchar(50) NULL,
    measurement_event_id          integer     NULL,
    meas_event_field_concept_id   integer     NULL
);

CREATE TABLE observation (
    observation_id                integer     NOT NULL,
    person_id                     integer     NOT NULL,
    observation_concept_id        integer     NOT NULL,
    observation_date              date        NOT NULL,
    observation_datetime          timestamp   NULL,
    observation_type_concept_id   integer     NOT NULL,
    value_as_number               numeric     NULL,
    value_as_string               varchar(60) NULL,
    value_as_concept_id           integer     NULL,
    qualifier_concept_id          integer     NULL,
    unit_concept_id               integer     NULL,
    provider_id                   integer     NULL,
    visit_occurrence_id           integer     NULL,
    visit_detail_id               integer     NULL,
    observation_source_value      varchar(50) NULL,
    observation_source_concept_id integer     NULL,
    unit_source_value             varchar(50) NULL,
    qualifier_source_value        varchar(50) NULL,
    value_source_value            varchar(50) NULL,
    observation_event_id          integer     NULL,
    obs_event_field_concept_id    integer     NULL
);

CREATE TABLE device_exposure (
    device_exposure_id             integer      NOT NULL,
    person_id                      integer      NOT NULL,
    device_concept_id              integer      NOT NULL,
    device_exposure_start_date     date         NOT NULL,
    device_exposure_start_datetime timestamp    NULL,
    device_exposure_end_date       date         NULL,
    device_exposure_end_datetime   timestamp    NULL,
    device_type_concept_id         integer      NOT NULL,
    unique_device_id               varchar(255) NULL,
    production_id                  varchar(255) NULL,
    quantity                       integer      NULL,
    provider_id                    integer      NULL,
    visit_occurrence_id            integer      NULL,
    visit_detail_id                integer      NULL,
    device_source_value            varchar(50)  NULL,
    device_source_concept_id       integer      NULL,
    unit_concept_id                integer      NULL,
    unit_source_value              varchar(50)  NULL,
    unit_source_concept_id         integer      NULL
);

CREATE TABLE note (
    note_id                     integer      NOT NULL,
    person_id                   integer      NOT NULL,
    note_date                   date         NOT NULL,
    note_datetime               timestamp    NULL,
    note_type_concept_id        integer      NOT NULL,
    note_class_concept_id       integer      NOT NULL,
    note_title                  varchar(250) NULL,
    note_text                   text         NOT NULL,
    encoding_concept_id         integer      NOT NULL,
    language_concept_id         integer      NOT NULL,
    provider_id                 integer      NULL,
    visit_occurrence_id         integer      NULL,
    visit_detail_id             integer      NULL,
    note_source_value           varchar(50)  NULL,
    note_event_id               integer      NULL,
    note_event_field_concept_id integer      NULL
);

CREATE TABLE note_nlp (
    note_nlp_id                integer       NOT NULL,
    note_id                    integer       NOT NULL,
    section_concept_id         integer       NULL,
    snippet                    varchar(250)  NULL,
    "offset"                   varchar(50)   NULL,
    lexical_variant            varchar(250)  NOT NULL,
    note_nlp_concept_id        integer       NULL,
    note_nlp_source_concept_id integer       NULL,
    nlp_system                 varchar(250)  NULL,
    nlp_date                   date          NOT NULL,
    nlp_datetime               timestamp     NULL,
    term_exists                varchar(1)    NULL,
    term_temporal              varchar(50)   NULL,
    term_modifiers             varchar(2000) NULL
);

-- vocabulary ---------------------------------------------------------------------------------

CREATE TABLE concept (
    concept_id       integer      NOT NULL,
    concept_name     varchar(255) NOT NULL,
    domain_id        varchar(20)  NOT NULL,
    vocabulary_id    varchar(20)  NOT NULL,
    concept_class_id varchar(20)  NOT NULL,
    standard_concept varchar(1)   NULL,
    concept_code     varchar(50)  NOT NULL,
    valid_start_date date         NOT NULL,
    valid_end_date   date         NOT NULL,
    invalid_reason   varchar(1)   NULL
);

CREATE TABLE concept_relationship (
    concept_id_1     integer     NOT NULL,
    concept_id_2     integer     NOT NULL,
    relationship_id  varchar(20) NOT NULL,
    valid_start_date date        NOT NULL,
    valid_end_date   date        NOT NULL,
    invalid_reason   varchar(1)  NULL
);

CREATE TABLE concept_ancestor (
    ancestor_concept_id      integer NOT NULL,
    descendant_concept_id    integer NOT NULL,
    min_levels_of_separation integer NOT NULL,
    max_levels_of_separation integer NOT NULL
);
