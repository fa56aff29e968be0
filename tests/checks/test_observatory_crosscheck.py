"""Opt-in: grade the same local sites with the official scanner and compare, test by test.

Runs only when ``FLIGHTDECK_OBSERVATORY_SCANNER`` names a folder where the MDN HTTP Observatory
package is installed (CI does not depend on npm)::

    mkdir /tmp/obs && cd /tmp/obs && npm install --ignore-scripts @mdn/mdn-http-observatory
    echo '{}' > node_modules/@mdn/mdn-http-observatory/conf/hsts-preload.json
    FLIGHTDECK_OBSERVATORY_SCANNER=/tmp/obs pytest tests/checks/test_observatory_crosscheck.py

The published package is scoring version 4, so flightdeck grades with ``scoring: 4`` here. The
scanner's ``scan()`` takes no ports, so a small script drives its retriever with the sites' ports
and applies the scanner's scoring to its tests' results.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.checks.servers import Pki, make_pki, run_yaml
from tests.checks.test_headers import STRONG, Site, replace, results, site

SCANNER = os.environ.get("FLIGHTDECK_OBSERVATORY_SCANNER")
pytestmark = pytest.mark.skipif(
    not SCANNER or shutil.which("node") is None,
    reason="set FLIGHTDECK_OBSERVATORY_SCANNER (and install node)",
)

SCRIPT = """
const pkg = process.argv[1] + "/node_modules/@mdn/mdn-http-observatory/src/";
const { retrieve } = await import(pkg + "retriever/retriever.js");
const { ALL_TESTS } = await import(pkg + "constants.js");
const { MINIMUM_SCORE_FOR_EXTRA_CREDIT } = await import(pkg + "grader/charts.js");
const { getGradeForScore, getScoreModifier } = await import(pkg + "grader/grader.js");
const [host, httpsPort, httpPort] = process.argv.slice(2);
const r = await retrieve(host, { httpsPort, httpPort });
const results = ALL_TESTS.map((test) => test(r));
let withCredit = 100, uncurved = 100;
const tests = {};
for (const res of results) {
  const m = getScoreModifier(res.result);
  withCredit += m;
  if (m < 0) uncurved += m;
  tests[res.constructor.name] = { result: res.result, pass: res.pass, modifier: m };
}
const score = uncurved >= MINIMUM_SCORE_FOR_EXTRA_CREDIT ? withCredit : uncurved;
console.log(JSON.stringify({ ...getGradeForScore(score), tests }));
"""

SCENARIOS: dict[str, tuple[list[tuple[str, str]], dict[str, Any]]] = {
    "no-headers": ([], {"http": "closed", "content_type": "text/plain", "body": "ok"}),
    "strong": (STRONG, {}),
    "unsafe-inline": (
        replace(STRONG, Content_Security_Policy="default-src 'self'; script-src 'unsafe-inline'"),
        {},
    ),
    "session-cookie-no-secure": (replace(STRONG, Set_Cookie="sessionid=a; HttpOnly"), {}),
    "cookie-no-secure-no-hsts": (
        replace(STRONG, Set_Cookie="theme=dark", Strict_Transport_Security=None),
        {},
    ),
    "cors-reflection": (STRONG, {"reflect_cors": True}),
    "missing-redirect": (STRONG, {"http": "plain"}),
    "off-host-redirect": (STRONG, {"http": "off-host"}),
    "sri-http-script": (STRONG, {"body": '<script src="http://cdn.example.org/a.js"></script>'}),
    "weak-mix": (
        replace(
            STRONG,
            Referrer_Policy="unsafe-url",
            Strict_Transport_Security="max-age=300",
            Content_Security_Policy="default-src 'self'; img-src http:",
            X_Frame_Options="SAMEORIGIN",
            X_Content_Type_Options="yes",
        ),
        {},
    ),
    "meta-policies": (
        replace(STRONG, Content_Security_Policy=None, Referrer_Policy=None),
        {
            "body": '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'">'
            '<meta name="referrer" content="origin">'
        },
    ),
    "report-only": (
        replace(
            STRONG, Content_Security_Policy=None, Content_Security_Policy_Report_Only="default-src 'none'"
        ),
        {},
    ),
}


# The published scanner never reports universal access: it reads the Origin it sent from
# ``response.request.headers``, which Node's request object does not have, so a reflected Origin
# with credentials comes out as "restricted access". flightdeck follows the documented methodology.
KNOWN_DIFFERENCES = {
    "cors-reflection": {
        "cross-origin-resource-sharing-implemented-with-universal-access": (
            "cross-origin-resource-sharing-implemented-with-restricted-access"
        )
    }
}


async def official(s: Site, pki: Pki) -> dict[str, Any]:
    https_port = s.https.base.rsplit(":", 1)[1]
    http_port = s.http_url.rsplit(":", 1)[1].rstrip("/")
    proc = await asyncio.create_subprocess_exec(
        "node",
        "--input-type=module",
        "-e",
        SCRIPT,
        str(SCANNER),
        "127.0.0.1",
        https_port,
        http_port,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(pki.ca_file)},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, f"the scanner failed: {err.decode()[-2000:]}"
    parsed: dict[str, Any] = json.loads(out)
    return parsed


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_same_results_as_the_official_scanner(name: str, tmp_path: Path) -> None:
    headers, options = SCENARIOS[name]
    pki = make_pki(tmp_path)
    async with site(pki, headers, **options) as s:
        ours = await run_yaml(s.yaml("  scoring: 4\n"))
        theirs = await official(s, pki)
    their_results = {k.removesuffix("Output"): v["result"] for k, v in theirs["tests"].items()}
    known = KNOWN_DIFFERENCES.get(name, {})
    our_results = {test: known.get(result, result) for test, (result, _, _) in results(ours).items()}
    print(
        name,
        json.dumps(
            {
                "ours": [ours.detail["grade"], ours.measurement("score")],
                "theirs": [theirs["grade"], theirs["score"]],
            }
        ),
    )
    assert sorted(our_results.values()) == sorted(their_results.values())
    if not known:
        assert (ours.detail["grade"], ours.measurement("score")) == (theirs["grade"], theirs["score"])
