"""The generator's optional tables (providers, person_status): complete, typed, reproducible, plausible."""

from __future__ import annotations

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tremplin.engine import schemas
from tremplin.engine.generator import generate_region


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    return generate_region(tmp_path_factory.mktemp("opt") / "r", persons=6000, territories=8, years=2, seed=5)


def test_optional_tables_follow_their_schemas_and_cover_the_data(region):
    providers = pq.read_table(region.out_dir / "providers.parquet")
    status = pq.read_table(region.out_dir / "person_status.parquet")
    assert providers.schema.equals(schemas.PROVIDERS) and status.schema.equals(schemas.PERSON_STATUS)
    events = pq.read_table(region.out_dir / "care_events.parquet", columns=["provider_id"])
    used = set(pc.unique(events["provider_id"]).to_pylist())
    assert used <= set(providers["provider_id"].to_pylist())
    assert set(providers["sector"].to_pylist()) <= set(schemas.SECTORS)
    assert set(providers["kind"].to_pylist()) <= set(schemas.PROVIDER_KINDS)
    persons = pq.read_table(region.out_dir / "persons.parquet")
    assert status["person_id"].to_pylist() == persons["person_id"].to_pylist()
    # the declared GP practises in the person's territory
    df = status.to_pandas().merge(persons.to_pandas(), on="person_id")
    declared = df.dropna(subset=["gp_provider_id"])
    assert (declared.gp_provider_id.str[2:7].astype(int) == declared.territory_id).all()
    assert 0.85 < len(declared) / len(df) < 0.95


def test_cover_flags_are_plausible(region):
    df = (pq.read_table(region.out_dir / "person_status.parquet").to_pandas()
          .merge(pq.read_table(region.out_dir / "persons.parquet").to_pandas(), on="person_id"))
    assert 0.10 < df.long_term_condition.mean() < 0.25
    assert 0.07 < df.low_income.mean() < 0.15
    assert df.loc[df.diabetes, "long_term_condition"].mean() > 0.85  # ALD 8


def test_optional_tables_are_reproducible_by_seed(tmp_path, region):
    again = generate_region(tmp_path / "again", persons=6000, territories=8, years=2, seed=5)
    for name in ("providers", "person_status"):
        assert pq.read_table(again.out_dir / f"{name}.parquet").equals(pq.read_table(region.out_dir / f"{name}.parquet"))
