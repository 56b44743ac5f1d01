"""Functions run as Lambda runs them: each in worker processes of its own whose import path
is its CodeUri, its layers and the Lambda runtime's packages, nothing of the dev venv. A
function that cannot initialise is a 502 (API) or Runtime.ImportModuleError (Invoke), loudly."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from cashback_tools.local import build
from cashback_tools.local.gateway import LocalGateway
from cashback_tools.local.invocation import FunctionError
from cashback_tools.local.template import load_template

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Handler: app.lambda_handler
    Timeout: 3
    Environment:
      Variables:
        FROM_TEMPLATE: "yes"
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: test
  # A layer that SAM does not build: its ContentUri is the layer (python/ is /opt/python).
  ToolsLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: tools/
  WithLayerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: uses_tools/
      Layers: [!Ref ToolsLayer]
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /with-layer, Method: get}}
  WithoutLayerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: uses_tools/
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /without-layer, Method: get}}
  NumpyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: uses_numpy/
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /numpy, Method: get}}
  DevToolFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: uses_pytest/
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /pytest, Method: get}}
  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: probe/
      Environment:
        Variables:
          ONLY_PROBE: "probe"
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /probe, Method: get}}
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Timeout: 1
"""

USES_TOOLS = """\
import tools_pkg


def lambda_handler(event, context):
    return {"statusCode": 200, "body": tools_pkg.NAME}
"""

USES_NUMPY = """\
import numpy


def lambda_handler(event, context):
    return {"statusCode": 200, "body": numpy.__version__}
"""

USES_PYTEST = USES_NUMPY.replace("numpy", "pytest")

PROBE = """\
import json
import os
import sys

import boto3

print("a print to stdout at import: not a reply")


def lambda_handler(event, context):
    print("{\\"statusCode\\": 599}")  # what would corrupt a reply read from stdout
    sys.stderr.write("and some stderr\\n")
    body = {
        "pid": os.getpid(),
        "path": sys.path,
        "boto3": boto3.__file__,
        "cwd": os.getcwd(),
        "env": {key: os.environ.get(key) for key in (
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "FROM_TEMPLATE", "ONLY_PROBE",
            "FROM_STACK", "AWS_LAMBDA_FUNCTION_NAME", "VIRTUAL_ENV", "PYTHONPATH")},
    }
    if "httpMethod" not in event:
        return body
    return {"statusCode": 200, "body": json.dumps(body)}
"""

SLOW = """\
import os
import time
from pathlib import Path


def lambda_handler(event, context):
    Path(event["pid_file"]).write_text(str(os.getpid()))
    time.sleep(event.get("sleep", 30))
    return {"done": True}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fidelity")
    (root / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    for folder, source in [
        ("uses_tools", USES_TOOLS),
        ("uses_numpy", USES_NUMPY),
        ("uses_pytest", USES_PYTEST),
        ("probe", PROBE),
        ("slow", SLOW),
    ]:
        (root / folder).mkdir()
        (root / folder / "app.py").write_text(source, encoding="utf-8")
    package = root / "tools" / "python" / "tools_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('NAME = "tools from the layer"\n', encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def gateway(project: Path) -> Iterator[LocalGateway]:
    template = load_template(project / "template.yaml")
    with LocalGateway(
        template, {"FROM_STACK": "stack"}, quiet=True, workers_per_function=2
    ) as running:
        yield running


def get(gateway: LocalGateway, path: str) -> requests.Response:
    return requests.get(gateway.url + path, timeout=30)


def lambda_client(gateway: LocalGateway) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}, read_timeout=30),
    )


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_function_gets_its_layer_and_one_without_it_cannot_start(
    gateway: LocalGateway, capfd: pytest.CaptureFixture[str]
) -> None:
    with_layer = get(gateway, "/with-layer")
    without = get(gateway, "/without-layer")

    assert with_layer.status_code == 200
    assert with_layer.text == "tools from the layer"
    assert without.status_code == 502
    assert without.json() == {"message": "Internal server error"}
    err = capfd.readouterr().err
    assert "WithoutLayerFunction cannot run: Runtime.ImportModuleError" in err
    assert "No module named 'tools_pkg'" in err


@pytest.mark.parametrize(
    ("path", "function", "module"),
    [
        ("/numpy", "NumpyFunction", "numpy"),  # installed in the dev venv, in no layer
        ("/pytest", "DevToolFunction", "pytest"),
    ],
)
def test_what_only_the_dev_venv_has_is_not_there(
    gateway: LocalGateway, capfd: pytest.CaptureFixture[str], path: str, function: str, module: str
) -> None:
    response = get(gateway, path)

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    err = capfd.readouterr().err
    assert (
        f"{function} cannot run: Runtime.ImportModuleError: Unable to import module "
        f"'app': No module named '{module}'" in err
    )


def test_invoke_reports_the_import_error_as_lambda_does(gateway: LocalGateway) -> None:
    reply = lambda_client(gateway).invoke(FunctionName="NumpyFunction", Payload=b"{}")

    assert reply["StatusCode"] == 200
    assert reply["FunctionError"] == "Unhandled"
    error = json.loads(reply["Payload"].read())
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == "Unable to import module 'app': No module named 'numpy'"
    with pytest.raises(FunctionError) as raised:
        gateway.invoke("NumpyFunction", {})
    assert raised.value.error_type == "Runtime.ImportModuleError"


def test_the_import_path_is_code_layers_and_runtime_only(
    gateway: LocalGateway, project: Path
) -> None:
    seen = json.loads(get(gateway, "/probe").text)

    runtime = str(build.runtime_path())
    assert seen["path"][:2] == [str(project / "probe"), runtime]
    assert all(
        entry.startswith(os.path.dirname(os.__file__).rsplit("/", 1)[0])
        or entry.startswith(("/usr/lib", "/usr/local/lib"))
        for entry in seen["path"][2:]
    ), seen["path"]  # the standard library
    assert not any("site-packages" in entry for entry in seen["path"])
    assert seen["boto3"].startswith(runtime)
    assert seen["cwd"] == str(project / "probe")  # Lambda's /var/task


def test_the_environment_is_the_functions_and_names_it(gateway: LocalGateway) -> None:
    probe = json.loads(get(gateway, "/probe").text)["env"]
    invoked = gateway.invoke("ProbeFunction", {})["env"]

    for env in (probe, invoked):
        assert env == {
            "AWS_ACCESS_KEY_ID": "ProbeFunction",
            "AWS_SECRET_ACCESS_KEY": "local",
            "FROM_TEMPLATE": "yes",
            "ONLY_PROBE": "probe",
            "FROM_STACK": "stack",
            "AWS_LAMBDA_FUNCTION_NAME": "ProbeFunction",
            "VIRTUAL_ENV": None,
            "PYTHONPATH": None,
        }


def test_prints_go_to_the_log_not_into_replies(
    gateway: LocalGateway, capfd: pytest.CaptureFixture[str]
) -> None:
    response = get(gateway, "/probe")

    assert response.status_code == 200
    deadline = time.monotonic() + 10  # the log relay is a thread of its own
    err = ""
    while "and some stderr" not in err and time.monotonic() < deadline:
        time.sleep(0.05)
        err += capfd.readouterr().err
    assert '[ProbeFunction] {"statusCode": 599}' in err
    assert "[ProbeFunction] and some stderr" in err


def test_warm_workers_are_reused_up_to_the_cap(gateway: LocalGateway) -> None:
    first = json.loads(get(gateway, "/probe").text)["pid"]
    second = json.loads(get(gateway, "/probe").text)["pid"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        pids = set(pool.map(lambda _: json.loads(get(gateway, "/probe").text)["pid"], range(12)))

    assert first == second  # one request at a time: the same warm worker
    assert len(pids) <= 2  # workers_per_function=2: the others waited for a free one
    assert gateway.workers()["ProbeFunction"] <= 2


def test_a_timeout_kills_the_worker(gateway: LocalGateway, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(FunctionError) as raised:
        gateway.invoke("SlowFunction", {"pid_file": str(pid_file)})

    assert raised.value.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in str(raised.value)
    assert gone(int(pid_file.read_text()))
    quick = gateway.invoke("SlowFunction", {"pid_file": str(pid_file), "sleep": 0})
    assert quick == {"done": True}  # a fresh worker took its place


def test_stopping_the_gateway_stops_its_workers(project: Path) -> None:
    template = load_template(project / "template.yaml")
    with LocalGateway(template, {}, quiet=True) as running:
        pid = running.invoke("ProbeFunction", {})["pid"]
        assert not gone(pid)
    assert gone(pid)


def test_the_layer_sources_are_linked_so_edits_need_no_rebuild() -> None:
    template = load_template(build.PROJECT_ROOT / "template.yaml")
    build.ensure_layers(template, quiet=True)
    package = build.layer_path(template, "CashbackLayer") / "cashback"
    model = build.layer_path(template, "ModelLayer") / "cashback_model"

    assert package.is_symlink()
    assert package.resolve() == build.PROJECT_ROOT / "layers" / "cashback" / "python" / "cashback"
    assert model.resolve() == build.PROJECT_ROOT / "layers" / "model" / "python" / "cashback_model"
