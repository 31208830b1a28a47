"""Client behaviour that needs no climcat server: configuration, argument checks, error
mapping, retries (against a tiny local HTTP server) and connection failures."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import Any, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import climcat  # noqa: E402
from climcat import errors  # noqa: E402
from climcat._config import load_config  # noqa: E402
from climcat._dap import parse_das, parse_dds  # noqa: E402


class ScriptedHandler(http.server.BaseHTTPRequestHandler):
    """Answers from a script of (status, headers, body); records each request."""

    script: List[Tuple[int, Dict[str, str], bytes]] = []
    seen: List[Dict[str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append({"path": self.path, "headers": dict(self.headers), "at": time.monotonic()})
        status, headers, body = self.script.pop(0) if self.script else (200, {}, b"{}")
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append({"path": self.path, "method": "POST", "body": json.loads(self.rfile.read(length) or b"null")})
        status, headers, body = self.script.pop(0) if self.script else (200, {}, b"{}")
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def problem(status: int, title: str, detail: str, **extra: Any) -> bytes:
    return json.dumps({"type": "x", "status": status, "title": title, "detail": detail, **extra}).encode()


class LocalServer:
    def __enter__(self) -> "LocalServer":
        ScriptedHandler.script = []
        ScriptedHandler.seen = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ScriptedHandler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ConfigTest(unittest.TestCase):
    def test_climcat_token_is_bearer(self) -> None:
        c = load_config(env={"CLIMCAT_URL": "http://h:1/", "CLIMCAT_TOKEN": "k", "JUPYTERHUB_API_TOKEN": "j"})
        self.assertEqual((c.url, c.authorization, c.auth_source), ("http://h:1", "Bearer k", "CLIMCAT_TOKEN"))

    def test_jupyterhub_token_when_alone(self) -> None:
        c = load_config(env={"CLIMCAT_URL": "http://h:1", "JUPYTERHUB_API_TOKEN": "hubtoken"})
        self.assertEqual(c.authorization, "token hubtoken")
        self.assertEqual(c.auth_source, "JUPYTERHUB_API_TOKEN")

    def test_netrc_fallback(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "netrc")
            with open(path, "w") as f:
                f.write("machine climcat.example.org login any password secretkey\n")
            os.chmod(path, 0o600)
            c = load_config(env={"CLIMCAT_URL": "https://climcat.example.org", "NETRC": path})
            self.assertEqual(c.auth_source, "~/.netrc")
            self.assertEqual(c.authorization, "Basic YW55OnNlY3JldGtleQ==")
            anon = load_config(env={"CLIMCAT_URL": "https://other.example.org", "NETRC": path})
            self.assertIsNone(anon.authorization)

    def test_defaults_and_roots(self) -> None:
        c = load_config(env={"CLIMCAT_ROOTS": "era5=/mnt/era5"})
        self.assertEqual(c.url, "http://localhost:8080")
        self.assertEqual(dict(c.roots), {"data": "/data", "derived": "/data/derived", "scratch": "/scratch", "era5": "/mnt/era5"})

    def test_bad_url(self) -> None:
        with self.assertRaisesRegex(ValueError, "http"):
            load_config(env={"CLIMCAT_URL": "climcat.example.org"})


class ArgumentChecksTest(unittest.TestCase):
    """Wrong types raise before anything is sent: the client points at a closed port."""

    def setUp(self) -> None:
        self.client = climcat.Client("http://127.0.0.1:9", "k", retries=0)

    def test_search_types(self) -> None:
        c = self.client
        with self.assertRaisesRegex(TypeError, "model must be a string or a list of strings"):
            c.search(model=5)
        with self.assertRaisesRegex(TypeError, "bbox must be a sequence"):
            c.search(bbox="0,1,2,3")
        with self.assertRaisesRegex(TypeError, "bbox values must be numbers"):
            c.search(bbox=(0, "1", 2, 3))
        with self.assertRaisesRegex(ValueError, "south"):
            c.search(bbox=(0, 60, 10, 40))
        with self.assertRaisesRegex(ValueError, "four numbers"):
            c.search(bbox=(0, 1, 2))
        with self.assertRaisesRegex(TypeError, "start must be a date"):
            c.search(start=3.5)
        with self.assertRaisesRegex(ValueError, "start must be a date YYYY"):
            c.search(start="last year")
        with self.assertRaisesRegex(ValueError, "must not be before start"):
            c.search(start="2010", end="2009-12")
        with self.assertRaisesRegex(ValueError, "unknown search argument 'modle'"):
            c.search(modle="HadGEM2-ES")
        with self.assertRaisesRegex(TypeError, "q must be a string"):
            c.search(q=["tas"])
        with self.assertRaisesRegex(ValueError, "kind: unknown value raw"):
            c.search(kind="raw")
        with self.assertRaisesRegex(ValueError, "page_size"):
            c.search(page_size=0)
        with self.assertRaisesRegex(TypeError, "page_size must be an integer"):
            c.search(page_size="10")
        with self.assertRaisesRegex(ValueError, "no commas"):
            c.search(variable="tas,pr")

    def test_search_builds_parameters_without_sending(self) -> None:
        import datetime

        r = self.client.search(
            "near surface", model=["HadGEM2-ES", "EC-EARTH"], start=2006, end=datetime.date(2010, 5, 1), bbox=(-10, 35, 30, 70.5)
        )
        self.assertEqual(
            r.params,
            [
                ("model", "HadGEM2-ES,EC-EARTH"),
                ("q", "near surface"),
                ("start", "2006"),
                ("end", "2010-05-01"),
                ("bbox", "-10.0,35.0,30.0,70.5"),
            ],
        )
        self.assertEqual(r.pages_fetched, 0)

    def test_other_methods(self) -> None:
        c = self.client
        with self.assertRaisesRegex(TypeError, "dataset id must be a string"):
            c.dataset(42)
        with self.assertRaisesRegex(ValueError, "must not be empty"):
            c.files("  ")
        with self.assertRaisesRegex(TypeError, "title must be a string"):
            c.promote(["a.nc"], 3)
        with self.assertRaisesRegex(TypeError, "paths must be a string or a list of strings"):
            c.promote([1], "t")
        with self.assertRaisesRegex(ValueError, "time must be"):
            c.download({"id": "x", "urls": {"ncss": "http://127.0.0.1:9/x"}}, time=("2006",))
        with self.assertRaisesRegex(ValueError, "horizStride"):
            c.download({"id": "x", "urls": {"ncss": "http://127.0.0.1:9/x"}}, horiz_stride=0)
        with self.assertRaises(FileNotFoundError):
            c.upload("/nonexistent/file.nc")


class ErrorMappingTest(unittest.TestCase):
    def test_problem_json(self) -> None:
        body = problem(
            400,
            "Bad Request",
            "query.bbox: must be four numbers",
            errors=[{"field": "query.bbox", "message": "must be four numbers"}],
            requestId="rid-1",
        )
        e = errors.error_for(400, body, url="http://h/api", headers={})
        self.assertIsInstance(e, climcat.BadRequest)
        self.assertIsInstance(e, climcat.ClimcatError)
        self.assertEqual((e.status, e.title, e.request_id), (400, "Bad Request", "rid-1"))
        self.assertEqual(e.errors, [{"field": "query.bbox", "message": "must be four numbers"}])
        self.assertIn("request id rid-1", str(e))

    def test_dap2_error(self) -> None:
        body = b'Error {\n    code = 413;\n    message = "The response would be about 5 kB (5000 bytes), over this server\'s THREDDS_BIN_LIMIT of 4.00 kB (4000 bytes): split it";\n};\n'
        e = errors.error_for(413, body, url="http://h/x.dods", headers={"X-Request-Id": "r2"})
        self.assertIsInstance(e, climcat.TooLarge)
        self.assertEqual(e.limit_bytes, 4000)
        self.assertEqual(e.request_id, "r2")

    def test_by_status(self) -> None:
        for status, cls in [
            (401, climcat.Unauthorized),
            (403, climcat.Forbidden),
            (404, climcat.NotFound),
            (409, climcat.Conflict),
            (429, climcat.RateLimited),
            (503, climcat.Unavailable),
            (507, climcat.InsufficientStorage),
            (500, climcat.ServerError),
        ]:
            self.assertIs(type(errors.error_for(status, b"", url="u", headers={})), cls)


class RetryTest(unittest.TestCase):
    def test_503_with_retry_after_is_retried_after_waiting(self) -> None:
        with LocalServer() as srv:
            ScriptedHandler.script = [
                (503, {"Retry-After": "1", "Content-Type": "application/problem+json"}, problem(503, "Service Unavailable", "busy")),
                (429, {"Retry-After": "0"}, problem(429, "Too Many Requests", "slow down")),
                (200, {"Content-Type": "application/json"}, b'{"user": "alice"}'),
            ]
            c = climcat.Client(srv.url, "key-1", backoff=0.01)
            self.assertEqual(c.whoami(), {"user": "alice"})
            seen = ScriptedHandler.seen
            self.assertEqual(len(seen), 3)
            self.assertGreaterEqual(seen[1]["at"] - seen[0]["at"], 0.95)
            self.assertEqual(seen[0]["headers"]["Authorization"], "Bearer key-1")

    def test_gives_up_after_retries_with_the_problem(self) -> None:
        with LocalServer() as srv:
            ScriptedHandler.script = [
                (503, {"Retry-After": "0"}, problem(503, "Service Unavailable", "hub is down", requestId="rq")),
            ] * 3
            c = climcat.Client(srv.url, "k", retries=2, backoff=0.01)
            with self.assertRaises(climcat.Unavailable) as caught:
                c.whoami()
            self.assertEqual(caught.exception.detail, "hub is down")
            self.assertEqual(caught.exception.request_id, "rq")
            self.assertEqual(len(ScriptedHandler.seen), 3)

    def test_hub_token_header(self) -> None:
        with LocalServer() as srv:
            ScriptedHandler.script = [(200, {}, b"{}")]
            old = {k: os.environ.pop(k, None) for k in ("CLIMCAT_TOKEN", "CLIMCAT_URL", "JUPYTERHUB_API_TOKEN")}
            try:
                os.environ["CLIMCAT_URL"] = srv.url
                os.environ["JUPYTERHUB_API_TOKEN"] = "hub-abc"
                climcat.Client().whoami()
            finally:
                for k, v in old.items():
                    os.environ.pop(k, None)
                    if v is not None:
                        os.environ[k] = v
            self.assertEqual(ScriptedHandler.seen[0]["headers"]["Authorization"], "token hub-abc")


class PromoteTest(unittest.TestCase):
    """The promotion job flow of POST /scratch/v1/me/promote (201 done, or 202 and poll ``href``)."""

    def job(self, state: str, **extra: Any) -> bytes:
        return json.dumps(
            {"jobId": "j1", "datasetId": "derived.alice.anomaly.v20260601", "state": state,
             "files": {"done": 0, "total": 1}, "href": "/scratch/v1/me/promotions/j1", **extra}
        ).encode()

    def test_polls_the_job_then_returns_the_dataset(self) -> None:
        with LocalServer() as srv:
            ScriptedHandler.script = [
                (202, {}, self.job("running")),
                (200, {}, self.job("running")),
                (200, {}, self.job("done")),
                (200, {}, b'{"id": "derived.alice.anomaly.v20260601", "kind": "derived", "urls": {"opendap": "x", "ncss": "y"}}'),
            ]
            c = climcat.Client(srv.url, "k")
            made = c.promote(
                "runs/anomaly.nc", "Anomaly", sources=["cordex.a.v1"], software="xarray 2023.1",
                description="DJF mean minus 2006", poll=0.01,
            )
            self.assertIsInstance(made, climcat.Dataset)
            self.assertEqual(made.kind, "derived")
            self.assertEqual(made.promotion["state"], "done")
            seen = ScriptedHandler.seen
            self.assertEqual(
                seen[0]["body"],
                {"paths": ["runs/anomaly.nc"], "title": "Anomaly", "sources": ["cordex.a.v1"],
                 "software": {"name": "xarray", "version": "2023.1"}, "description": "DJF mean minus 2006"},
            )
            self.assertEqual([x["path"] for x in seen[1:]], ["/scratch/v1/me/promotions/j1"] * 2 + ["/api/v1/datasets/derived.alice.anomaly.v20260601"])

    def test_a_failed_job_raises_with_its_reason(self) -> None:
        with LocalServer() as srv:
            ScriptedHandler.script = [(201, {}, self.job("failed", error="body.sources[0]: not readable"))]
            c = climcat.Client(srv.url, "k")
            with self.assertRaisesRegex(climcat.ClimcatError, "not readable"):
                c.promote(["a.nc"], "T", sources="x.v1", software=("cdo", "2.1"), description="d")

    def test_provenance_is_checked_before_sending(self) -> None:
        with LocalServer() as srv:
            c = climcat.Client(srv.url, "k")
            with self.assertRaisesRegex(ValueError, "sources are required"):
                c.promote(["a.nc"], "T", software="cdo 2", description="d")
            with self.assertRaisesRegex(ValueError, "software is required"):
                c.promote(["a.nc"], "T", sources="x", description="d")
            with self.assertRaisesRegex(ValueError, "needs a name and a version"):
                c.promote(["a.nc"], "T", sources="x", software="cdo", description="d")
            with self.assertRaisesRegex(ValueError, "description is required"):
                c.promote(["a.nc"], "T", sources="x", software="cdo 2")
            with self.assertRaisesRegex(TypeError, "public must be"):
                c.promote(["a.nc"], "T", sources="x", software="cdo 2", description="d", public="yes")
            self.assertEqual(ScriptedHandler.seen, [])


class ConnectionTest(unittest.TestCase):
    def test_a_server_that_is_not_climcat(self) -> None:
        with LocalServer() as srv:
            html = b"<html><body><h1>Welcome to nginx</h1></body></html>"
            ScriptedHandler.script = [(404, {"Content-Type": "text/html"}, html), (200, {"Content-Type": "text/html"}, html)]
            c = climcat.Client(srv.url, "k")
            with self.assertRaises(climcat.NotFound) as caught:
                c.dataset("x")
            self.assertIn("not a climcat problem answer (is CLIMCAT_URL right?): <html>", str(caught.exception))
            with self.assertRaisesRegex(climcat.ClimcatError, "is not JSON .*Welcome to nginx"):
                c.whoami()

    def test_wrong_url_says_what_was_tried(self) -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        c = climcat.Client(f"http://127.0.0.1:{port}", "k")
        with self.assertRaises(climcat.ClimcatConnectionError) as caught:
            c.dataset("some.dataset")
        message = str(caught.exception)
        self.assertIn(f"http://127.0.0.1:{port}/api/v1/datasets/some.dataset", message)
        self.assertIn("CLIMCAT_URL", message)

    def test_unknown_host(self) -> None:
        c = climcat.Client("http://climcat.invalid", "k")
        with self.assertRaisesRegex(climcat.ClimcatConnectionError, "climcat.invalid"):
            c.whoami()


class ImportTest(unittest.TestCase):
    def test_standard_library_only_at_import(self) -> None:
        code = "import sys, climcat; bad = [m for m in ('numpy', 'pandas', 'xarray', 'tqdm') if m in sys.modules]; print(bad)"
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=str(Path(__file__).resolve().parents[1]),
            capture_output=True,
            text=True,
            check=True,
        )
        self.assertEqual(out.stdout.strip(), "[]")


class InstallTest(unittest.TestCase):
    def test_pip_installs_the_package(self) -> None:
        """``pip install ./clients/python`` (offline: the system's setuptools, no build isolation)."""
        import shutil

        source = Path(__file__).resolve().parents[1]
        with tempfile.TemporaryDirectory() as d:
            copy = Path(d) / "src"
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
            target = Path(d) / "site"
            done = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps", "--no-index",
                 "--disable-pip-version-check", "--target", str(target), str(copy)],
                capture_output=True,
                text=True,
            )
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertTrue((target / "climcat" / "py.typed").is_file())
            out = subprocess.run(
                [sys.executable, "-c", "import climcat, sys; print(climcat.__version__, climcat.__file__)"],
                cwd=d,
                env={**os.environ, "PYTHONPATH": str(target)},
                capture_output=True,
                text=True,
                check=True,
            )
            version, path = out.stdout.split()
            self.assertEqual(version, climcat.__version__)
            self.assertTrue(path.startswith(str(target)), path)


class DapParsingTest(unittest.TestCase):
    def test_dds_grid_and_arrays(self) -> None:
        dds = parse_dds(
            "Dataset {\n  Float64 lat[lat = 3];\n  Grid {\n   ARRAY:\n    Float32 tas[time = 2][lat = 3];\n"
            "   MAPS:\n    Float64 time[time = 2];\n    Float64 lat[lat = 3];\n  } tas;\n  String crs;\n} d.v1;\n"
        )
        self.assertEqual(dds.name, "d.v1")
        self.assertEqual(list(dds.variables), ["lat", "tas", "crs"])
        self.assertEqual((dds.variables["tas"].path, dds.variables["tas"].shape), ("tas.tas", [2, 3]))

    def test_das_types_and_strings(self) -> None:
        das = parse_das(
            'Attributes {\n  tas {\n    Float32 _FillValue 1e+20;\n    String units "K";\n    Int16 valid 1, 2;\n'
            '    String note "a \\"quoted\\" word";\n  }\n  NC_GLOBAL {\n    String title "t";\n  }\n}\n'
        )
        self.assertEqual(str(das["tas"]["_FillValue"].dtype), "float32")
        self.assertEqual(das["tas"]["units"], "K")
        self.assertEqual(list(das["tas"]["valid"]), [1, 2])
        self.assertEqual(das["tas"]["note"], 'a "quoted" word')
        self.assertEqual(das["NC_GLOBAL"]["title"], "t")


if __name__ == "__main__":
    unittest.main()
