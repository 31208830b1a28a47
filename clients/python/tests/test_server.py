"""The client against a running climcat (started by test/python/client.e2e-spec.ts).

Environment: CLIMCAT_URL, CLIMCAT_TOKEN (a reader key of user alice in group eucp),
CLIMCAT_ROOTS (data=<the archive the server reads>), CLIMCAT_TEST_BIN_LIMIT (the server's
THREDDS_BIN_LIMIT in bytes), CLIMCAT_TEST_DERIVED_ID, CLIMCAT_TEST_PRIVATE_ID. Without
CLIMCAT_URL the suite is skipped, unless CLIMCAT_TEST_REQUIRE=1 (the e2e run; also CI=true),
where it fails instead.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import unittest
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import climcat  # noqa: E402

CORDEX = "cordex.output.EUR-44.SMHI.MPI-M-MPI-ESM-LR.rcp85.r1i1p1.SMHI-RCA4.v1.mon.tas.v20131026"
REQUIRED = ("CLIMCAT_URL", "CLIMCAT_TOKEN", "CLIMCAT_ROOTS", "CLIMCAT_TEST_BIN_LIMIT", "CLIMCAT_TEST_DERIVED_ID")


def setUpModule() -> None:
    missing = [k for k in REQUIRED if not os.environ.get(k)]
    if missing:
        message = f"needs a running climcat: set {', '.join(missing)} (npm run test:e2e -- test/python runs it)"
        if os.environ.get("CLIMCAT_TEST_REQUIRE") == "1" or os.environ.get("CI") == "true":
            raise RuntimeError(message)
        raise unittest.SkipTest(message)


def client(**kwargs: object) -> climcat.Client:
    return climcat.Client(**kwargs)  # type: ignore[arg-type]


def local_file(c: climcat.Client, dataset_id: str) -> str:
    files = c.files(dataset_id)
    assert len(files) == 1, files
    path = files[0].local_path
    assert path is not None and files[0].exists_locally, path
    return path


class SearchTest(unittest.TestCase):
    def test_paging_visits_every_dataset_once(self) -> None:
        c = client()
        everything = c.search(page_size=2)
        total = len(everything)
        self.assertGreaterEqual(total, 6)
        ids = [d.id for d in everything]
        self.assertEqual(len(ids), total)
        self.assertEqual(len(set(ids)), total)
        self.assertEqual(everything.pages_fetched, math.ceil(total / 2))
        # Fetched pages are kept: a second pass and indexing send nothing.
        self.assertEqual([d.id for d in everything], ids)
        self.assertEqual(everything[total - 1].id, ids[-1])
        self.assertEqual(everything.pages_fetched, math.ceil(total / 2))

    def test_facets_and_filters(self) -> None:
        c = client()
        cordex = c.search(project="CORDEX", kind="standard")
        self.assertEqual(cordex.facet_counts("domain"), {"EUR-11": 1, "EUR-44": 1})
        hits = c.search(project="CORDEX", domain="EUR-44", variable="tas", kind="standard")
        self.assertEqual(hits.ids(), [CORDEX])
        self.assertEqual(len(c.search(project="CORDEX", kind="standard", start="2006-03", end="2006-04", bbox=(0, 40, 20, 55))), 2)
        self.assertEqual(len(c.search(project="CORDEX", start="1990", end="1991")), 0)
        self.assertEqual([d.id for d in c.search(q="RCA4", project="CORDEX", kind="standard")], [CORDEX])

    def test_df(self) -> None:
        # Standard only: promoted datasets (test_promote) inherit their source's facets.
        df = client().search(project="CORDEX", kind="standard").df()
        self.assertEqual(len(df), 2)
        self.assertEqual(sorted(df["domain"]), ["EUR-11", "EUR-44"])
        row = df[df["id"] == CORDEX].iloc[0]
        self.assertEqual(row["variable"], "tas")
        self.assertEqual(row["calendar"], "standard")
        self.assertTrue(row["opendap"].endswith(f"/thredds/dodsC/datasets/{CORDEX}"))


class RecordsTest(unittest.TestCase):
    def test_dataset_files_history(self) -> None:
        c = client()
        d = c.dataset(CORDEX)
        self.assertEqual(d.facets["domain"], "EUR-44")
        self.assertTrue(d.opendap.endswith(f"/thredds/dodsC/datasets/{CORDEX}"))
        files = c.files(CORDEX)
        self.assertEqual(len(files), 1)
        f = files[0]
        self.assertTrue(f.exists_locally, f.local_path)
        self.assertTrue(f.urls.opendap.endswith(f.path))
        self.assertTrue(f.urls.httpserver.endswith(f.path))
        self.assertTrue(f.urls.ncss.endswith(f.path))
        self.assertGreaterEqual(len(c.history(CORDEX)), 1)

    def test_lineage(self) -> None:
        c = client()
        derived = os.environ["CLIMCAT_TEST_DERIVED_ID"]
        up = c.lineage(derived)
        self.assertEqual([a.id for a in up.ancestors], [CORDEX])
        down = c.lineage(CORDEX)
        self.assertIn(derived, [x.id for x in down.descendants])

    def test_whoami(self) -> None:
        self.assertEqual(client().whoami().user, "alice")


class OpenDatasetTest(unittest.TestCase):
    def test_subset_equals_the_local_file(self) -> None:
        import numpy as np
        import xarray as xr

        c = client()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", climcat.SplitWarning)
            ds = c.open_dataset(CORDEX, variables="tas", time=("2006-03", "2006-06"), bbox=(0, 40, 20, 55))
            self.assertEqual(ds.encoding["climcat"]["time"]["steps"], 4)
            self.assertEqual(set(ds.data_vars), {"tas", "time_bnds", "rotated_pole"})
            mine = ds.tas.load()
        with xr.open_dataset(local_file(c, CORDEX)) as ref:
            theirs = ref.tas.sel(time=mine.time, rlat=mine.rlat, rlon=mine.rlon)
            self.assertTrue(np.array_equal(mine.values, theirs.values, equal_nan=True))
            self.assertEqual(mine.attrs["units"], "K")
            self.assertTrue(np.array_equal(ds.lat.values, ref.lat.sel(rlat=mine.rlat, rlon=mine.rlon).values))
        self.assertGreater(mine.size, 0)
        self.assertLess(mine.size, 12 * 11 * 11)

    def test_whole_variable_is_split_under_the_server_limit(self) -> None:
        import numpy as np
        import xarray as xr

        limit = int(os.environ["CLIMCAT_TEST_BIN_LIMIT"])
        c = client()
        ds = c.open_dataset(CORDEX)
        reader = ds.encoding["climcat_reader"]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = ds.tas.values
        splits = [w for w in caught if issubclass(w.category, climcat.SplitWarning)]
        self.assertEqual(len(splits), 1, [str(w.message) for w in caught])
        self.assertIn(f"limit of {limit} bytes", str(splits[0].message))
        self.assertEqual(reader.limit, limit)
        self.assertGreater(values.nbytes, limit)
        with xr.open_dataset(local_file(c, CORDEX)) as ref:
            self.assertTrue(np.array_equal(values, ref.tas.values, equal_nan=True))
            self.assertEqual(list(ds.time.values), list(ref.time.values))
        # Once learnt, the limit splits up front: no more 413s.
        before = reader.requests
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", climcat.SplitWarning)
            ds.tas.isel(time=slice(0, 6)).values
        self.assertEqual(reader.requests - before, math.ceil(6 * 11 * 11 * 4 / reader.budget()))

    def test_360_day_calendar_and_a_box_across_the_antimeridian(self) -> None:
        import cftime
        import numpy as np
        import xarray as xr

        c = client()
        d = c.search(project="CMIP5", model="HadGEM2-ES", variable="tas", time_frequency="mon").first()
        assert d is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", climcat.SplitWarning)
            sub = c.open_dataset(d, variables="tas", time="2006", bbox=(-100, -90, 100, 90))
            self.assertIsInstance(sub.time.values[0], cftime.Datetime360Day)
            self.assertEqual(sub.time.values[0].year, 2006)
            # West to east across the seam of the 0..360 grid.
            self.assertEqual(list(sub.lon.values), [270.0, 315.0, 0.0, 45.0, 90.0])
            mine = sub.tas.values
        with xr.open_dataset(local_file(c, d.id)) as ref:
            want = ref.tas.sel(time=sub.time, lat=sub.lat, lon=sub.lon)
            self.assertTrue(np.array_equal(mine, want.values, equal_nan=True))

    def test_a_known_limit_splits_without_a_413(self) -> None:
        c = client()
        ds = c.open_dataset(CORDEX, max_request_bytes=1000)
        reader = ds.encoding["climcat_reader"]
        before = reader.requests
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", climcat.SplitWarning)
            ds.tas.isel(time=slice(0, 3)).values
        self.assertEqual(reader.limit, 1000)
        # One time step is 11 x 11 floats = 484 bytes; two would pass 1000 less room for the DDS (750).
        self.assertEqual(reader.requests - before, 3)

    def test_bad_selection(self) -> None:
        c = client()
        with self.assertRaisesRegex(ValueError, "unknown variable pr"):
            c.open_dataset(CORDEX, variables="pr")
        with self.assertRaisesRegex(ValueError, "no time steps"):
            c.open_dataset(CORDEX, time=("1990", "1991"))
        with self.assertRaisesRegex(ValueError, "misses the grid"):
            c.open_dataset(CORDEX, bbox=(100, -40, 120, -20))


class DownloadTest(unittest.TestCase):
    def test_ncss_subset_to_a_file(self) -> None:
        import numpy as np
        import xarray as xr

        c = client()
        with tempfile.TemporaryDirectory() as d:
            out = c.download(
                CORDEX, Path(d) / "sub.nc", variables="tas", time=("2006-02", "2006-03"), bbox=(5, 45, 15, 52), progress=True
            )
            self.assertFalse((Path(d) / "sub.nc.part").exists())
            with xr.open_dataset(out) as sub, xr.open_dataset(local_file(c, CORDEX)) as ref:
                self.assertEqual(sub.sizes["time"], 2)
                want = ref.tas.sel(time=sub.time, rlat=sub.rlat, rlon=sub.rlon)
                self.assertTrue(np.array_equal(sub.tas.values, want.values, equal_nan=True))
            with self.assertRaises(FileExistsError):
                c.download(CORDEX, out, variables="tas", time="2006-02")

    def test_too_large_says_how_to_split(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(climcat.TooLarge) as caught:
                client().download(CORDEX, Path(d) / "all.nc", progress=False)
            self.assertRegex(caught.exception.detail, "split it|thin it")
            self.assertEqual(caught.exception.limit_bytes, int(os.environ["CLIMCAT_TEST_BIN_LIMIT"]))
            self.assertEqual(list(Path(d).iterdir()), [])


class ScratchTest(unittest.TestCase):
    def test_upload_counts_in_my_quota(self) -> None:
        c = client()
        before = c.my_quota()
        self.assertEqual(before.user, "alice")
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "anomaly.nc"
            src.write_bytes(os.urandom(100_000))
            written = c.upload(src, "runs/anomaly.nc", progress=False)
            self.assertEqual((written.path, written.bytes), ("runs/anomaly.nc", 100_000))
        after = c.my_quota()
        self.assertGreaterEqual(after.usage.bytes - before.usage.bytes, 100_000)
        self.assertEqual(after.usage.files - before.usage.files, 1)
        plan = c.purge_plan()
        self.assertIsInstance(plan, dict)

    def test_an_upload_over_quota_is_refused_before_sending(self) -> None:
        c = client()
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "huge.nc"
            with open(src, "wb") as f:
                f.truncate(5_000_000)
            with self.assertRaises(climcat.InsufficientStorage) as caught:
                c.upload(src, progress=False)
            self.assertIn("/scratch/v1/uploads", caught.exception.url or "")

    def test_promote(self) -> None:
        import netCDF4
        import numpy as np

        c = client()
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "promote-me.nc"
            with netCDF4.Dataset(src, "w") as nc:
                nc.createDimension("x", 3)
                v = nc.createVariable("tas", "f4", ("x",))
                v.units = "K"
                v[:] = np.array([1.0, 2.0, 3.0])
            c.upload(src, "runs/promote-me.nc", progress=False)
        made = c.promote(
            ["runs/promote-me.nc"],
            "Promoted by the Python client test",
            sources=[CORDEX],
            software="xarray 2023.1",
            description="a tiny file written with netCDF4",
        )
        self.assertEqual(made.kind, "derived")
        self.assertIn(made.id, [x.id for x in c.lineage(CORDEX).descendants])

    def test_promote_citing_an_unreadable_source_is_refused_naming_it(self) -> None:
        import netCDF4

        c = client()
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "orphan.nc"
            with netCDF4.Dataset(src, "w") as nc:
                nc.createDimension("x", 1)
                nc.createVariable("tas", "f4", ("x",))[:] = [1.0]
            c.upload(src, "runs/orphan.nc", progress=False)
        for source in (os.environ["CLIMCAT_TEST_PRIVATE_ID"], "cmip5.no.such.dataset.v1"):
            with self.assertRaises(climcat.BadRequest) as caught:
                c.promote(["runs/orphan.nc"], "Orphan", sources=[source], software="xarray 2023.1", description="d")
            self.assertIn("body.sources[0]", [e.get("field") for e in caught.exception.errors])
        # Nothing was half done: no dataset was made from the refused promotions.
        self.assertEqual([d.id for d in c.search(q="Orphan", kind="derived")], [])


class ErrorsTest(unittest.TestCase):
    def test_not_found_and_no_access(self) -> None:
        c = client()
        with self.assertRaises(climcat.NotFound) as caught:
            c.dataset("cmip5.no.such.dataset")
        self.assertTrue(caught.exception.request_id)
        self.assertIn("cmip5.no.such.dataset", caught.exception.url or "")
        with self.assertRaises(climcat.NotFound):
            c.files(os.environ["CLIMCAT_TEST_PRIVATE_ID"])

    def test_wrong_key(self) -> None:
        with self.assertRaises(climcat.Unauthorized) as caught:
            climcat.Client(token="not-a-key-0123456789").dataset(CORDEX)
        self.assertEqual(caught.exception.status, 401)

    def test_bad_request_carries_errors(self) -> None:
        c = client()
        with self.assertRaises(climcat.BadRequest) as caught:
            c._http.get_json("/api/v1/datasets", {"limit": 5000})
        self.assertEqual(caught.exception.errors[0]["field"], "query.limit")
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(climcat.BadRequest) as outside:
                c.download(CORDEX, Path(d) / "x.nc", variables="tas", time=("1990-01", "1990-02"), progress=False)
            self.assertIn("query.time_start", [e["field"] for e in outside.exception.errors])


class ExportTest(unittest.TestCase):
    def test_intake_esm_and_esgf(self) -> None:
        c = client()
        coll = c.to_intake_esm(project="CORDEX", kind="standard")
        self.assertEqual(coll.assets.format, "opendap")
        self.assertEqual(len(coll.catalog_dict), 2)
        per_dataset = c.to_intake_esm(project="CORDEX", domain="EUR-44", kind="standard", aggregation="dataset")
        self.assertTrue(per_dataset.catalog_dict[0]["path"].endswith(f"/datasets/{CORDEX}"))
        with tempfile.TemporaryDirectory() as d:
            path = c.to_intake_esm(Path(d) / "cordex.json", project="CORDEX")
            self.assertEqual(json.loads(Path(path).read_text())["esmcat_version"], coll.esmcat_version)
        self.assertTrue(c.esgf().endswith("/esg-search"))
        answer = c._http.get_json(c.esgf(project="CORDEX", domain="EUR-44", q="RCA4"))
        self.assertEqual(answer["response"]["numFound"], len(c.search(project="CORDEX", domain="EUR-44", q="RCA4")))
        self.assertIn(CORDEX, [doc["id"].split("|")[0] for doc in answer["response"]["docs"]])
        with self.assertRaisesRegex(ValueError, "not kind"):
            c.esgf(project="CORDEX", kind="standard")


if __name__ == "__main__":
    unittest.main()
